"""Operation and storage counts of AXELRAM versus conventional dequantise-then-dot.

Counting rules (all per the stated unit; "add" includes subtract):

* FWHT of one vector: ``d*log2(d)`` add/subtract operations (``d/2*log2(d)`` butterflies).
* AXELRAM write (per key): sign flip (``d`` negations, counted as adds), FWHT, ``d`` squares +
  ``d-1`` adds + 1 square root for the norm, ``2**(b-1)-1`` constant multiplies to scale the
  thresholds, and ``d*(2**b-1)`` comparisons (``d*2**(b-1)`` with the antisymmetric quantiser:
  one sign test and ``2**(b-1)-1`` magnitude comparisons per coordinate).
* AXELRAM read (per query of T keys): sign flip + FWHT of ``q``; the table ``d*2**b`` multiplies
  (the paper's count; ``d*2**(b-1)`` exploiting antisymmetry); per key ``d`` look-ups, ``d-1``
  adds and 1 multiply by the norm.
* Conventional (the paper's baseline): per key ``d`` multiplies and ``d-1`` adds for the dot
  product, after dequantising (``d`` look-ups, ``d*log2 d`` adds for the inverse FWHT, ``d``
  multiplies by the norm) — the paper counts only the ``T*d`` dot-product multiplies.
* Storage: ``d*b`` index bits + the stored norm per key; FP16 keys ``16*d`` bits. ROMs: codebook
  ``(2**b + 2**b - 1) * 16`` bits (the paper's FP16 form), sign ROM ``d`` bits per layer; the query
  table ``d*2**b`` entries of ``table_width`` bits (the paper: FP16).
"""

from dataclasses import dataclass

from .checks import check_int_range
from .config import AxelramConfig

__all__ = ["OpCounts", "op_counts"]


@dataclass(frozen=True)
class OpCounts:
    d: int
    b: int
    t: int
    write_adds: int
    write_mults: int
    write_compares: int
    write_compares_antisym: int
    query_adds: int
    query_mults: int
    query_mults_antisym: int
    query_lookups: int
    conv_mults: int
    conv_mults_with_dequant: int
    conv_adds_with_dequant: int
    key_bits: int
    fp16_key_bits: int
    codebook_rom_bytes: float
    sign_rom_bytes_per_layer: float
    table_bytes: float

    @property
    def mult_ratio(self):
        """Conventional / AXELRAM multiplies per query (the paper's 102.4 at T=4096, d=128, b=3)."""
        return self.conv_mults / self.query_mults

    @property
    def compression(self):
        return self.fp16_key_bits / self.key_bits

    @property
    def break_even_t(self):
        """Smallest T at which AXELRAM needs fewer multiplies per query: T*d > d*2**b + T."""
        return (self.d << self.b) // (self.d - 1) + 1

    def rows(self):
        """(quantity, AXELRAM, conventional) rows for printing."""
        return [
            ("multiplies per query (paper's count)", self.query_mults, self.conv_mults),
            ("multiplies per query, antisymmetric table", self.query_mults_antisym, None),
            ("multiplies per query incl. dequantisation", self.query_mults,
             self.conv_mults_with_dequant),
            ("adds per query", self.query_adds, self.conv_adds_with_dequant),
            ("table look-ups per query", self.query_lookups, self.t * self.d),
            ("adds per key write", self.write_adds, None),
            ("multiplies per key write", self.write_mults, None),
            ("comparisons per key write (full / antisymmetric)",
             f"{self.write_compares} / {self.write_compares_antisym}", None),
            ("bits per stored key", self.key_bits, self.fp16_key_bits),
            ("codebook ROM bytes", self.codebook_rom_bytes, None),
            ("sign ROM bytes per layer", self.sign_rom_bytes_per_layer, None),
            ("query table bytes", self.table_bytes, None),
        ]


def op_counts(d, b, t, cfg=None):
    """Counts for head dimension ``d``, ``b`` bits and ``t`` keys scored per query.

    ``cfg`` (an :class:`AxelramConfig` with the same d and b) supplies the stored-norm and table
    widths; by default the paper's 16-bit norm and FP16 table are used.
    """
    check_int_range("d", d, 4, 1024, power_of_two=True)
    check_int_range("b", b, 1, 4)
    check_int_range("t", t, 1, 1 << 30)
    if cfg is not None and not isinstance(cfg, AxelramConfig):
        raise TypeError("cfg must be an AxelramConfig")
    log2d = d.bit_length() - 1
    fwht = d * log2d
    norm_bits = cfg.norm_width if cfg else 16
    table_bits = cfg.table_width if cfg else 16
    levels, half = 1 << b, 1 << (b - 1)
    return OpCounts(
        d=d, b=b, t=t,
        write_adds=d + fwht + (d - 1),
        write_mults=d + (half - 1),
        write_compares=d * (levels - 1),
        write_compares_antisym=d * half,
        query_adds=d + fwht + t * (d - 1),
        query_mults=d * levels + t,
        query_mults_antisym=d * half + t,
        query_lookups=t * d,
        conv_mults=t * d,
        conv_mults_with_dequant=t * 2 * d,
        conv_adds_with_dequant=t * (fwht + d - 1),
        key_bits=d * b + norm_bits,
        fp16_key_bits=16 * d,
        codebook_rom_bytes=(levels + levels - 1) * 16 / 8,
        sign_rom_bytes_per_layer=d / 8,
        table_bytes=d * levels * table_bits / 8,
    )
