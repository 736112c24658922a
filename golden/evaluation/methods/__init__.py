"""The KV-cache methods of ``axelram eval``, one module per method, behind a small registry.

Keys only by default; ``values="method"`` also quantises the values. Each module's docstring
describes its method exactly:

``fp16`` (:mod:`.fp16`)
    The reference: keys and values rounded to fp16. 16 bits per coordinate.
``axelram`` (:mod:`.axelram`)
    The float AXELRAM model per layer, ``b`` bits, exact norm. d*b + 16 bits.
``axelram-fixed`` (:mod:`.axelram_fixed`)
    The bit-exact fixed-point path (:class:`golden.fixed.FixedModel`). d*b + norm-word bits.
``axelram-centred`` (:mod:`.axelram_centred`; *ours*, an extension, not the paper's)
    AXELRAM on ``k - mu`` with ``mu`` the mean calibration key of the layer and KV head.
``turboquant`` (:mod:`.turboquant`)
    TurboQuant-MSE: Haar-random rotation per layer, Beta-marginal Lloyd–Max codebook.
``kivi`` (:mod:`.kivi`)
    KIVI: keys per channel, values per token, fp16 residual window.
``squat`` (:mod:`.squat`)
    SQuat: KIVI keys with the query-subspace-orthogonal block correction.
``srft-int4`` (:mod:`.srft_int4`)
    Sign-randomised Hadamard, calibrated per-channel scale, per-group abs-max int4.

Everything in this sub-package is NumPy only (no torch). :data:`METHODS` maps each name to its
class (a :class:`~.base.Method`); :func:`check_b` and :func:`make_method` look names up there.
"""

import numpy as np

from .axelram import Axelram
from .axelram_centred import AxelramCentred
from .axelram_fixed import AxelramFixed
from .fp16 import FP16
from .kivi import Kivi
from .squat import SQuat
from .srft_int4 import SrftInt4
from .turboquant import TurboQuant

__all__ = ["METHODS", "check_b", "make_method"]

#: Method name -> class, in the order the help text and error messages list them.
METHODS = {cls.name: cls for cls in (FP16, Axelram, AxelramFixed, AxelramCentred, TurboQuant,
                                     Kivi, SQuat, SrftInt4)}


def check_b(method, b):
    """The bit width to use for ``method``: ``b`` or the method's default; ValueError if the
    method is unknown or ``b`` is out of its range."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    cls = METHODS[method]
    if b is None:
        return cls.default_b
    if cls.default_b is None:
        raise ValueError(f"method {method} takes no --b (it is the 16-bit reference)")
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b not in cls.b_choices:
        raise ValueError(f"b must be one of {', '.join(map(str, cls.b_choices))} for method "
                         f"{method}, not {b!r}")
    return int(b)


def make_method(name, info, b=None, *, signs=None, seed=0, calib=None, values="fp16",
                **options):
    """Build a method by name (see :data:`METHODS`); ``b=None`` picks the method's default.

    ``signs`` (a :class:`golden.signs.SignSet`) is used by the ``axelram`` methods (default:
    ``default_signs(d, layers, seed)``); ``seed`` by those and by ``turboquant``/``srft-int4``;
    ``calib`` (a :class:`golden.kvdump.KVDump`) is required by ``srft-int4`` and
    ``axelram-centred``; ``options`` go to the constructor of ``kivi``/``squat`` (e.g.
    ``residual=0``). Arguments a method does not use are ignored.
    """
    b = check_b(name, b)
    return METHODS[name].build(info, b, signs=signs, seed=seed, calib=calib, values=values,
                               options=options)
