"""The one frozen configuration object shared by the gateware, the golden model and the tests.

Every width of the datapath is derived here, in one place, from the user-facing parameters.
``docs/number-formats.md`` explains each format with a worked example.
"""

from dataclasses import dataclass, fields

from .checks import check_int_range
from .codebook import gaussian_codebook

__all__ = ["AxelramConfig"]

# Parameter ranges: (minimum, maximum). One table, one message shape.
_RANGES = {
    "d": (4, 1024),
    "b": (1, 4),
    "t": (2, 65536),
    "layers": (1, 256),
    "in_width": (2, 24),
    "norm_mant": (4, 16),
    "sqrt_mant": (4, 26),
    "thr_frac": (4, 24),
    "cent_frac": (4, 20),
    "table_width": (6, 32),
}

#: The golden model computes in int64; the widest intermediate must leave one bit of headroom.
_INT64_LIMIT = 62


@dataclass(frozen=True)
class AxelramConfig:
    """Parameters of one AXELRAM macro.

    Parameters
    ----------
    d : int
        Head dimension (coordinates per key). Power of two, 4..1024. Non-powers of two are
        rejected: pad the head dimension with zeros to the next power of two (zero coordinates
        change neither the norm nor any inner product).
    b : int
        Bits per stored coordinate index, 1..4.
    t : int
        Key slots in the index store, 2..65536.
    lanes : int or None
        Coordinates processed per clock (P). Power of two dividing ``d``; ``None`` means ``d``
        (fully parallel: one key per clock on each side).
    layers : int
        Number of sign patterns in the sign ROM (one per model layer), 1..256.
    in_width : int
        Width of a signed two's-complement key/query coordinate, 2..24.
    norm_mant : int
        Mantissa bits M of the stored key norm ``n = mant * 2**(exp - norm_bias)``.
    sqrt_mant : int
        Significant bits of the square root that scales the thresholds (at least
        ``norm_mant``). Index agreement with the float quantiser depends on it; the stored norm
        is this root rounded to ``norm_mant`` bits.
    thr_frac : int
        Fraction bits of the threshold ROM words (N(0,1) units).
    cent_frac : int
        Fraction bits of the centroid ROM words (N(0,1) units).
    table_width : int
        Width of a signed query-table entry (the block-floating-point mantissa).
    antisymmetric : bool
        Build the quantiser with a sign bit and 2**(b-1)-1 magnitude comparators instead of
        2**b-1 signed comparators. Same indices either way; an area choice only.
    """

    d: int = 128
    b: int = 3
    t: int = 4096
    lanes: int | None = None
    layers: int = 1
    in_width: int = 16
    norm_mant: int = 11
    sqrt_mant: int = 20
    thr_frac: int = 20
    cent_frac: int = 12
    table_width: int = 16
    antisymmetric: bool = True

    def __post_init__(self):
        check_int_range("d", self.d, *_RANGES["d"], power_of_two=True)
        for name in ("b", "t", "layers", "in_width", "norm_mant", "sqrt_mant", "thr_frac",
                     "cent_frac", "table_width"):
            check_int_range(name, getattr(self, name), *_RANGES[name])
        if self.lanes is None:
            object.__setattr__(self, "lanes", self.d)
        check_int_range("lanes", self.lanes, 1, self.d, power_of_two=True)
        if not isinstance(self.antisymmetric, bool):
            raise TypeError(f"antisymmetric must be a bool, not {self.antisymmetric!r}")
        if self.sqrt_mant < self.norm_mant:
            raise ValueError(f"sqrt_mant must be at least norm_mant ({self.norm_mant}), "
                             f"not {self.sqrt_mant}")
        if self.table_width <= self.centroid_rom_width:
            raise ValueError(
                f"table_width must be larger than the centroid ROM word width "
                f"({self.centroid_rom_width} bits at cent_frac={self.cent_frac}, b={self.b}), "
                f"not {self.table_width}")
        for name, width in self.widths().items():
            if name != "row_width" and width > _INT64_LIMIT:
                raise ValueError(
                    f"derived width {name} is {width} bits, more than the {_INT64_LIMIT} the "
                    f"golden model supports; reduce in_width, norm_mant, thr_frac or table_width")

    # -- user-facing helpers -------------------------------------------------------------------

    @classmethod
    def field_names(cls):
        """The user-settable parameter names, in declaration order."""
        return [f.name for f in fields(cls) if f.init]

    def as_dict(self):
        return {name: getattr(self, name) for name in self.field_names()}

    @property
    def name(self):
        """Base name of generated files, e.g. ``axelram_d128_b3``."""
        return f"axelram_d{self.d}_b{self.b}"

    # -- structure -----------------------------------------------------------------------------

    @property
    def log2d(self):
        return self.d.bit_length() - 1

    @property
    def log2_lanes(self):
        return self.lanes.bit_length() - 1

    @property
    def beats(self):
        """Clocks (beats) per vector: d / lanes."""
        return self.d // self.lanes

    @property
    def levels(self):
        """Quantisation levels 2**b."""
        return 1 << self.b

    @property
    def half_levels(self):
        """Positive centroids 2**(b-1) (the codebook is antisymmetric)."""
        return 1 << (self.b - 1)

    @property
    def addr_width(self):
        """Width of a slot address."""
        return (self.t - 1).bit_length()

    @property
    def count_width(self):
        """Width of a slot count (0..t)."""
        return self.t.bit_length()

    @property
    def layer_width(self):
        """Width of a layer number (at least 1 bit so the port exists)."""
        return max(1, (self.layers - 1).bit_length())

    # -- codebook ROM words -------------------------------------------------------------------

    @property
    def threshold_rom(self):
        """Positive thresholds gamma_1..gamma_{H-1} as unsigned ints, scale 2**-thr_frac."""
        cb = gaussian_codebook(self.b)
        return tuple(round(g * (1 << self.thr_frac)) for g in cb.thresholds[self.half_levels:])

    @property
    def centroid_rom(self):
        """Positive centroids c_0..c_{H-1} (ascending) as unsigned ints, scale 2**-cent_frac."""
        cb = gaussian_codebook(self.b)
        return tuple(round(c * (1 << self.cent_frac)) for c in cb.centroids[self.half_levels:])

    @property
    def threshold_rom_width(self):
        return max((g.bit_length() for g in self.threshold_rom), default=1)

    @property
    def centroid_rom_width(self):
        return max(c.bit_length() for c in self.centroid_rom)

    # -- write path widths -------------------------------------------------------------------

    @property
    def u_width(self):
        """Signed width of a rotated coordinate u = H(s*k): in_width + 1 (sign flip) + log2 d."""
        return self.in_width + 1 + self.log2d

    @property
    def sumsq_width(self):
        """Unsigned width of sum(k_i**2); the most negative input squared is 4**(in_width-1)."""
        return (self.d << (2 * self.in_width - 2)).bit_length()

    @property
    def sqrt_z_min(self):
        """Exponent of the smallest non-zero root (S = 1): n = m * 2**z, z = 1 - sqrt_mant."""
        return 1 - self.sqrt_mant

    @property
    def sqrt_z_max(self):
        """Largest root exponent: ceil((sumsq_width - 2*sqrt_mant) / 2), +1 for a rounding carry."""
        return -((2 * self.sqrt_mant - self.sumsq_width) // 2) + 1

    @property
    def sqrt_z_width(self):
        """Signed width holding every root exponent z (and 0 for a zero key)."""
        return max((-self.sqrt_z_min - 1).bit_length(), self.sqrt_z_max.bit_length()) + 1

    @property
    def norm_bias(self):
        """Stored-exponent bias: the smallest non-zero norm (1) is stored with exponent 0."""
        return self.norm_mant - 1

    @property
    def norm_exp_max(self):
        """Largest stored (biased) exponent (the stored rounding may carry once more)."""
        return self.sqrt_z_max + (self.sqrt_mant - self.norm_mant) + 1 + self.norm_bias

    @property
    def norm_exp_width(self):
        return max(1, self.norm_exp_max.bit_length())

    @property
    def norm_width(self):
        """Stored norm word: exponent (high bits) and mantissa (low bits)."""
        return self.norm_mant + self.norm_exp_width

    @property
    def threshold_product_width(self):
        """Unsigned width of sqrt mantissa * threshold ROM word."""
        return self.sqrt_mant + self.threshold_rom_width

    @property
    def threshold_shift_range(self):
        """(min, max) of the shift applied to the product: z - thr_frac (negative = right)."""
        return (self.sqrt_z_min - self.thr_frac, self.sqrt_z_max - self.thr_frac)

    @property
    def threshold_width(self):
        """Unsigned width of a norm-scaled threshold theta = floor(n * gamma) in u units."""
        top = ((1 << self.threshold_product_width) - 1)
        hi = self.threshold_shift_range[1]
        return max(1, (top << hi if hi >= 0 else top >> -hi).bit_length())

    @property
    def row_width(self):
        """One index-store row: d*b index bits (coordinate 0 lowest) + norm word (highest)."""
        return self.d * self.b + self.norm_width

    # -- read path widths ---------------------------------------------------------------------

    @property
    def table_shift_max(self):
        """Largest per-query table exponent qs (see golden.fixed.FixedModel.query): the largest
        one's-complement magnitude of a rotated coordinate has ``u_width - 1`` bits."""
        return max(0, self.u_width - 1 + self.centroid_rom_width - (self.table_width - 1))

    @property
    def table_shift_width(self):
        return max(1, self.table_shift_max.bit_length())

    @property
    def term_width(self):
        """Signed width of one looked-up term (+-entry): table_width + 1, so negation is safe."""
        return self.table_width + 1

    @property
    def acc_width(self):
        """Signed width of the adder-tree sum of d terms."""
        return self.term_width + self.log2d

    @property
    def score_mant_width(self):
        """Signed width of the score mantissa: sum * norm mantissa."""
        return self.acc_width + self.norm_mant

    @property
    def score_exp_max(self):
        return self.table_shift_max + self.norm_exp_max

    @property
    def score_exp_width(self):
        return max(1, self.score_exp_max.bit_length())

    @property
    def score_exp_offset(self):
        """score = mant * 2**(exp + score_exp_offset), in units of (input LSB)**2."""
        return -(self.norm_bias + self.cent_frac + self.log2d)

    def widths(self):
        """Every derived width, by name (for the JSON description and the docs)."""
        return {
            "u_width": self.u_width,
            "sumsq_width": self.sumsq_width,
            "sqrt_z_width": self.sqrt_z_width,
            "norm_exp_width": self.norm_exp_width,
            "norm_width": self.norm_width,
            "threshold_rom_width": self.threshold_rom_width,
            "centroid_rom_width": self.centroid_rom_width,
            "threshold_width": self.threshold_width,
            "threshold_product_width": self.threshold_product_width,
            "row_width": self.row_width,
            "table_shift_width": self.table_shift_width,
            "term_width": self.term_width,
            "acc_width": self.acc_width,
            "score_mant_width": self.score_mant_width,
            "score_exp_width": self.score_exp_width,
        }
