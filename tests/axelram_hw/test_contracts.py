"""Twin contracts: each path's two micro-architectures take one Signature and behave alike.

For every twin pair (rotation, norm unit, threshold unit, key encoder, read path) the two
implementations, built for the same ``lanes = 1`` configuration, must have equal signatures of
the one contract class (:class:`~axelram_hw.lib.interface.ContractSignature` compares class and
members), and one shared behavioural body (``check_*``) runs over both against the golden model
with seeded random valid/ready. The model is ``check_sync_fifo`` in Amaranth's
``tests/test_lib_fifo.py``. The factories must pick the serial twin exactly at ``lanes == 1``.
"""

import dataclasses
import random

import numpy as np
import pytest
from amaranth import Fragment, unsigned

from axelram_hw.front_end.factory import make_rotation
from axelram_hw.front_end.fwht import SignFlipFWHT
from axelram_hw.front_end.fwht_serial import SerialFWHT
from axelram_hw.front_end.interface import RotationSignature
from axelram_hw.lib.sideband import Sideband
from axelram_hw.read_path.factory import make_read_path, read_path_class
from axelram_hw.read_path.interface import ReadPathSignature
from axelram_hw.read_path.read_path import ReadPath
from axelram_hw.read_path.read_path_serial import SerialReadPath
from axelram_hw.write_path.factory import make_key_encoder, make_norm_unit, make_threshold_unit
from axelram_hw.write_path.interface import (
    KeyEncoderSignature,
    NormUnitSignature,
    ThresholdSignature,
    norm_word_layout,
)
from axelram_hw.write_path.key_encoder import KeyEncoder
from axelram_hw.write_path.key_encoder_serial import SerialKeyEncoder
from axelram_hw.write_path.norm import NormUnit
from axelram_hw.write_path.norm_iterative import IterativeNormUnit
from axelram_hw.write_path.thresholds import sideband_threshold_unit
from axelram_hw.write_path.thresholds_iterative import IterativeThresholdUnit
from golden.config import AxelramConfig
from golden.fixed import FixedModel, scaled_thresholds
from golden.signs import default_signs
from sim.vectors import fwht_vectors
from tests.support import key_encoder, norm, read_path, rotation
from tests.support.keys import key_beats, make_keys
from tests.support.streams import run, sink, source
from tests.support.thresholds import assert_same, root_extremes, serial_threshold_payloads

#: Small coordinate-serial configurations (the parallel/folded twins accept ``lanes = 1`` too).
CONFIGS = [
    dict(d=16, b=1, t=8, lanes=1),
    dict(d=16, b=2, t=8, lanes=1, in_width=8),
    dict(d=32, b=3, t=8, lanes=1, layers=2),
]
SIDE = unsigned(8)


def cfg_id(p):
    return "-".join(f"{k}{v}" for k, v in p.items())


def config(params):
    return AxelramConfig(**params)


def seed_of(cfg):
    return cfg.d * 10 + cfg.b


def name_of(impl):
    return getattr(impl, "__name__", None) or impl.__class__.__name__


def elaborates(*duts):
    """Elaborate each of ``duts`` (they are built for their signatures only)."""
    for dut in duts:
        Fragment.get(dut, None)


def assert_same_contract(a, b, want):
    """``a`` and ``b`` take the signature ``want``, of the same contract class (and both
    elaborate for this configuration)."""
    assert type(a.signature) is type(b.signature) is type(want)
    assert a.signature == b.signature == want
    assert a.signature.members == b.signature.members
    elaborates(a, b)


def assert_factory_picks(factory, cfg, serial_type, folded_type):
    """``factory`` builds ``serial_type`` at ``lanes = 1`` and ``folded_type`` at ``lanes = 2``,
    and both elaborate."""
    serial, folded = factory(cfg), factory(dataclasses.replace(cfg, lanes=2))
    assert type(serial) is serial_type
    assert type(folded) is folded_type
    elaborates(serial, folded)
    return serial


def test_contract_equality_is_by_class_and_members():
    """The comparison the contract tests rely on is not vacuous."""
    cfg = config(CONFIGS[1])
    wider = dataclasses.replace(cfg, in_width=cfg.in_width + 1)
    assert RotationSignature(cfg) == RotationSignature(cfg)
    assert RotationSignature(cfg) != RotationSignature(wider)
    assert KeyEncoderSignature(cfg) != KeyEncoderSignature(wider)
    assert ThresholdSignature(cfg, SIDE) != ThresholdSignature(cfg, unsigned(9))
    # Same members under another contract class are another contract.
    other = type("OtherSignature", (NormUnitSignature,), {})(cfg)
    assert other.members == NormUnitSignature(cfg).members
    assert other != NormUnitSignature(cfg)


# ---- rotation: SignFlipFWHT | SerialFWHT ------------------------------------------------------

def check_rotation(dut, cfg, seed):
    """Vectors over the whole input range with random negate bits (against ``FWHT(s * x)``),
    then vectors with the sign ROM's bits per layer (against ``FixedModel.rotate``)."""
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(seed)
    x, neg = fwht_vectors(cfg, rng, 12)
    y, _ = fwht_vectors(cfg, rng, 6)
    layers = np.arange(len(y)) % cfg.layers
    y_neg = (model.signs.signs[layers] == -1).astype(np.int64)
    want = np.concatenate([rotation.expected(x, neg),
                           np.stack([model.rotate(v, n) for v, n in zip(y, layers, strict=True)])])
    payloads = rotation.beats(cfg, x, neg) + rotation.beats(cfg, y, y_neg)
    got = []
    r = random.Random(seed)
    run(dut,
        source(dut.i, payloads, rng=random.Random(seed + 1), p_valid=r.uniform(0.4, 0.8)),
        sink(dut.o, len(payloads), got, rng=random.Random(seed + 2), p_ready=r.uniform(0.4, 0.8),
             tail=dut.latency + 2 * cfg.d),
        deadline_cycles=20 * len(payloads) + 1000)
    rotation.check(cfg, want, got)


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_rotation_contract(params):
    cfg = config(params)
    assert_same_contract(SignFlipFWHT(cfg), SerialFWHT(cfg), RotationSignature(cfg))
    assert_factory_picks(make_rotation, cfg, SerialFWHT, SignFlipFWHT)


@pytest.mark.parametrize("impl", [SignFlipFWHT, SerialFWHT], ids=name_of)
@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_rotation_behaviour(params, impl):
    cfg = config(params)
    check_rotation(impl(cfg), cfg, seed_of(cfg))


# ---- norm unit: NormUnit | IterativeNormUnit --------------------------------------------------

def check_norm_unit(dut, cfg, seed):
    """The write-path test keys; ``(m, z, mant, exp)`` per key against golden root/encode_norm."""
    keys = make_keys(cfg, np.random.default_rng(seed), n_random=12)
    interval = getattr(dut, "interval", 1)
    got = []
    run(dut,
        source(dut.i, key_beats(cfg, keys), rng=random.Random(seed + 1), p_valid=0.7),
        sink(dut.o, len(keys), got, rng=random.Random(seed + 2), p_ready=0.5,
             tail=dut.latency + 8),
        deadline_cycles=len(keys) * (4 * cfg.d + 20 * interval) + 400)
    norm.check(cfg, keys, got)


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_norm_unit_contract(params):
    cfg = config(params)
    assert_same_contract(NormUnit(cfg), IterativeNormUnit(cfg), NormUnitSignature(cfg))
    serial, folded = make_norm_unit(cfg), make_norm_unit(dataclasses.replace(cfg, lanes=2))
    assert serial.signature == NormUnitSignature(cfg)
    assert type(folded) is NormUnit
    elaborates(serial, folded)


@pytest.mark.parametrize("impl", [NormUnit, IterativeNormUnit], ids=name_of)
@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_norm_unit_behaviour(params, impl):
    cfg = config(params)
    check_norm_unit(impl(cfg), cfg, seed_of(cfg))


# ---- threshold unit: Sideband(ThresholdUnit) | IterativeThresholdUnit ------------------------

THRESHOLD_CONFIGS = [p for p in CONFIGS if p["b"] > 1]


def sideband_thresholds(cfg, side):
    return sideband_threshold_unit(cfg, side)


def iterative_thresholds(cfg, side):
    return IterativeThresholdUnit(cfg, side)


def check_threshold_unit(dut, cfg, seed):
    """Roots of the test keys and the extremes, the position as side data: floor thresholds
    against golden ``scaled_thresholds``, side data back in order."""
    m, z = root_extremes(cfg, make_keys(cfg, np.random.default_rng(seed), n_random=8))
    interval = getattr(dut, "interval", 1)
    got = []
    run(dut,
        source(dut.i, serial_threshold_payloads(m, z), rng=random.Random(seed + 3), p_valid=0.6),
        sink(dut.o, len(m), got, rng=random.Random(seed + 4), p_ready=0.6,
             tail=getattr(dut, "latency", 0) + 8 * interval + 8),
        deadline_cycles=len(m) * 8 * interval + 400)
    assert_same(np.array([list(g.data.lo) for g in got]), scaled_thresholds(cfg, m, z),
                "floor thresholds")
    assert [g.side for g in got] == [n % 256 for n in range(len(m))], "side data"


@pytest.mark.parametrize("params", THRESHOLD_CONFIGS, ids=cfg_id)
def test_threshold_unit_contract(params):
    cfg = config(params)
    assert_same_contract(sideband_thresholds(cfg, SIDE), iterative_thresholds(cfg, SIDE),
                         ThresholdSignature(cfg, SIDE))
    serial = make_threshold_unit(cfg, SIDE)
    folded = make_threshold_unit(dataclasses.replace(cfg, lanes=2), SIDE)
    assert serial.signature == ThresholdSignature(cfg, SIDE)
    assert type(folded) is Sideband
    assert make_threshold_unit(dataclasses.replace(cfg, b=1), SIDE) is None
    elaborates(serial, folded)


@pytest.mark.parametrize("impl", [sideband_thresholds, iterative_thresholds], ids=name_of)
@pytest.mark.parametrize("params", THRESHOLD_CONFIGS, ids=cfg_id)
def test_threshold_unit_behaviour(params, impl):
    cfg = config(params)
    check_threshold_unit(impl(cfg, SIDE), cfg, seed_of(cfg))


# ---- key encoder: KeyEncoder | SerialKeyEncoder -----------------------------------------------

def check_key_encoder(dut, cfg, seed):
    """The write-path test keys and their rotations: indices and norm words of every output
    beat against golden ``FixedModel.write``."""
    keys = make_keys(cfg, np.random.default_rng(seed), n_random=6)
    got = key_encoder.run_encoder(cfg, keys, seed=seed, dut=dut)
    key_encoder.check(cfg, keys, got)


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_key_encoder_contract(params):
    cfg = config(params)
    serial = assert_factory_picks(make_key_encoder, cfg, SerialKeyEncoder, KeyEncoder)
    assert_same_contract(KeyEncoder(cfg), serial, KeyEncoderSignature(cfg))
    # The serial encoder takes its norm and threshold units through their contracts.
    built = SerialKeyEncoder(cfg, make_norm_unit(cfg),
                             make_threshold_unit(cfg, norm_word_layout(cfg)))
    assert built.signature == KeyEncoderSignature(cfg)
    elaborates(built)


@pytest.mark.parametrize("impl", [KeyEncoder, make_key_encoder],
                         ids=["KeyEncoder", "SerialKeyEncoder"])
@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_key_encoder_behaviour(params, impl):
    cfg = config(params)
    dut = impl(cfg)
    if impl is make_key_encoder:
        assert type(dut) is SerialKeyEncoder
    check_key_encoder(dut, cfg, seed_of(cfg))


# ---- read path: ReadPath | SerialReadPath -----------------------------------------------------

def check_read_path(path, cfg, seed):
    """Keys in some slots (others never written), then queries back to back; commands cover
    written, never-written and out-of-range slots and end with count = 0. Every score beat
    against golden ``FixedModel.score`` of the store contents. ``path`` is the class."""
    model = FixedModel(cfg, default_signs(cfg.d, cfg.layers))
    rng = np.random.default_rng(seed)
    keys = np.array(read_path.vectors(cfg, rng, n_gauss=3))
    slots = rng.choice(cfg.t, size=len(keys), replace=False)
    store = read_path.Store(cfg)
    beats = store.write(slots, model.write(keys))
    queries = read_path.vectors(cfg, rng, n_gauss=1, extreme=True, signs=model.signs.signs[0])
    t = cfg.t
    cmds = [(0, t), (t - 3, 6), (int(slots[0]), 1), (1, t - 1), (0, 0)]
    cmds = cmds[:len(queries) - 1] + cmds[-1:]
    want = read_path.expected_scores(cfg, model, store, queries, cmds)
    read_path.run_traffic(cfg, model, beats, queries, cmds, want, seed=seed, path=path)


@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_read_path_contract(params):
    cfg = config(params)
    assert_same_contract(ReadPath(cfg), SerialReadPath(cfg), ReadPathSignature(cfg))
    assert read_path_class(cfg) is SerialReadPath
    assert read_path_class(dataclasses.replace(cfg, lanes=2)) is ReadPath
    assert_factory_picks(make_read_path, cfg, SerialReadPath, ReadPath)


@pytest.mark.parametrize("impl", [ReadPath, SerialReadPath], ids=name_of)
@pytest.mark.parametrize("params", CONFIGS, ids=cfg_id)
def test_read_path_behaviour(params, impl):
    cfg = config(params)
    check_read_path(impl, cfg, seed_of(cfg))
