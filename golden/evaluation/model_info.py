"""A model's attention shape, read cheaply (the GGUF header or ``config.json``; no weights)."""

import dataclasses
import json
import os
import struct
from pathlib import Path

__all__ = ["ModelInfo", "model_info"]


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the methods need to know about a model: its attention shape."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    model_type: str = ""


def _gguf_metadata(path, wanted_suffixes):
    """Key/value metadata of a GGUF file (header only; arrays are skipped, not decoded)."""
    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
              11: "<q", 12: "<d"}
    out = {}
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (bad magic)")
        version, = struct.unpack("<I", f.read(4))
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported")
        _, n_kv = struct.unpack("<QQ", f.read(16))

        def read_str():
            n, = struct.unpack("<Q", f.read(8))
            return f.read(n).decode("utf-8", "replace")

        def read_value(vtype):
            if vtype in scalar:
                fmt = scalar[vtype]
                return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
            if vtype == 8:
                return read_str()
            if vtype == 9:
                itype, n = struct.unpack("<IQ", f.read(12))
                if itype in scalar:
                    size = struct.calcsize(scalar[itype])
                    if n <= 1024:
                        return list(struct.unpack(f"<{n}{scalar[itype][1]}", f.read(n * size)))
                    f.seek(n * size, os.SEEK_CUR)
                    return None
                if itype == 8:
                    for _ in range(n):
                        m, = struct.unpack("<Q", f.read(8))
                        f.seek(m, os.SEEK_CUR)
                    return None
                return [read_value(itype) for _ in range(n)]
            raise ValueError(f"{path}: unknown GGUF value type {vtype}")

        for _ in range(n_kv):
            key = read_str()
            vtype, = struct.unpack("<I", f.read(4))
            value = read_value(vtype)
            if key == "general.architecture" or key.endswith(wanted_suffixes):
                out[key] = value
    return out


def model_info(ref):
    """:class:`ModelInfo` from a :class:`golden.evaluation.models.ModelRef` without loading
    weights (the GGUF header or ``config.json``); takes well under a second."""
    if ref.gguf_file is not None:
        path = Path(ref.directory) / ref.gguf_file
        meta = _gguf_metadata(path, (".block_count", ".attention.head_count",
                                     ".attention.head_count_kv", ".embedding_length",
                                     ".attention.key_length"))
        arch = meta.get("general.architecture")
        if arch is None:
            raise ValueError(f"{path}: GGUF file names no general.architecture")

        def get(name, default=None):
            v = meta.get(f"{arch}.{name}", default)
            if isinstance(v, list):
                v = max(v)
            return v

        layers, heads = get("block_count"), get("attention.head_count")
        if layers is None or heads is None:
            raise ValueError(f"{path}: GGUF metadata lacks {arch}.block_count or "
                             f"{arch}.attention.head_count")
        kv_heads = get("attention.head_count_kv", heads)
        head_dim = get("attention.key_length") or get("embedding_length") // heads
        return ModelInfo(int(layers), int(heads), int(kv_heads), int(head_dim), str(arch))
    cfg_path = Path(ref.directory) / "config.json"
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg = cfg.get("text_config", cfg)
    try:
        layers, heads = int(cfg["num_hidden_layers"]), int(cfg["num_attention_heads"])
        kv_heads = int(cfg.get("num_key_value_heads") or heads)
        head_dim = int(cfg.get("head_dim") or cfg["hidden_size"] // heads)
    except KeyError as exc:
        raise ValueError(f"{cfg_path}: lacks {exc.args[0]!r}") from None
    return ModelInfo(layers, heads, kv_heads, head_dim, str(cfg.get("model_type", "")))
