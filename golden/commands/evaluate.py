"""``axelram eval``: perplexity of a real model whose KV cache is quantised (golden.evaluation)."""

import json
import time
from pathlib import Path

DESCRIPTION = """\
Perplexity protocol (golden/evaluation/): the first TOKENS tokens of the text are cut into
TOKENS // CTX non-overlapping windows of CTX tokens; each window is one forward pass, every token
except the first of each window is scored exactly once. The model's attention reads the keys
(and with --values method also the values) as the quantised cache returns them. Every method is
compared with the fp16 cache on the same windows: delta perplexity, mean KL divergence of the
next-token distributions, top-1 agreement and the relative attention-score error per layer.
Methods: fp16, axelram, axelram-fixed (bit-exact FixedModel path), turboquant (MSE variant),
kivi, squat, srft-int4 (needs a calibration KV dump). Several methods can be given, separated
by commas; they share one model load and one fp16 reference run. All input checks happen before
the model is loaded.
"""


def add_parser(subparsers):
    p = subparsers.add_parser(
        "eval", help="perplexity / KL / top-1 of a real model with a quantised KV cache",
        description=DESCRIPTION)
    p.add_argument("--model", default="smollm2", metavar="MODEL",
                   help="smollm2 | qwen1.5b | a GGUF file | a HuggingFace directory "
                        "(default: %(default)s)")
    p.add_argument("--text", default="wiki-eval", metavar="TEXT",
                   help="wiki-eval | wiki-calib | a UTF-8 text file (default: %(default)s)")
    p.add_argument("--method", default="axelram", metavar="NAME[,NAME...]",
                   help="fp16, axelram, axelram-fixed, axelram-centred, turboquant, kivi, "
                        "squat, srft-int4 (default: %(default)s)")
    p.add_argument("--b", type=int, default=None,
                   help="bits per coordinate (axelram/turboquant 1..4, default 3; kivi/squat "
                        "2 or 4, default 2; srft-int4 is 4)")
    p.add_argument("--signs", type=Path, default=None, metavar="FILE",
                   help="sign file (axelram-signs/1) for axelram / axelram-fixed; default: the "
                        "generator signs of --seed")
    p.add_argument("--seed", type=int, default=0,
                   help="generator seed of the default signs, TurboQuant's rotations and "
                        "srft-int4's signs (default: %(default)s)")
    p.add_argument("--values", choices=("fp16", "method"), default="fp16",
                   help="fp16: only keys are quantised (default); method: values too")
    p.add_argument("--calib-kv", type=Path, default=None, metavar="DUMP",
                   help="calibration KV dump for srft-int4 and axelram-centred (default for a "
                        "short model name: "
                        "build/kv/<name>_calib.safetensors)")
    p.add_argument("--tokens", type=int, default=4096, metavar="N",
                   help="evaluation tokens, used as N // CTX windows (default: %(default)s)")
    p.add_argument("--ctx", type=int, default=1024, metavar="C",
                   help="window length in tokens (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="torch threads (default: torch's choice)")
    p.add_argument("--score-check", action="store_true",
                   help="axelram-fixed: also compare FixedModel.score with q . k~ on a sample")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the results as JSON (and a markdown table next to it, .md)")
    p.set_defaults(func=run)
    return p


def prepare(args):
    """Every check that needs no model weights; returns what the run needs. Raises ValueError /
    FileNotFoundError with a one-line message."""
    from golden.evaluation import corpus, models, packages
    from golden.evaluation.methods import check_b, make_method
    from golden.evaluation.model_info import model_info
    from golden.kvdump import read_kv_dump
    from golden.signs import read_signs

    methods = [m.strip() for m in str(args.method).split(",") if m.strip()]
    if not methods:
        raise ValueError("--method is empty")
    bits = {m: check_b(m, args.b) for m in methods}
    if args.ctx < 2:
        raise ValueError(f"--ctx must be at least 2, not {args.ctx}")
    if args.tokens < args.ctx:
        raise ValueError(f"--tokens ({args.tokens}) must be at least --ctx ({args.ctx})")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, not {args.threads}")
    if not 0 <= args.seed < 2 ** 31:
        raise ValueError(f"--seed must be between 0 and 2**31-1, not {args.seed}")
    if args.signs is not None and not any(m.startswith("axelram") for m in methods):
        raise ValueError("--signs applies only to axelram and axelram-fixed")
    if args.out is not None and args.out.is_dir():
        raise ValueError(f"--out {str(args.out)!r} is a directory")

    ref = models.resolve_model(args.model)
    info = model_info(ref)
    signs = None
    if args.signs is not None:
        if not args.signs.is_file():
            raise FileNotFoundError(f"sign file {str(args.signs)!r} not found")
        signs = read_signs(args.signs, d=info.head_dim, layers=info.layers)
    calib = None
    if "srft-int4" in methods or "axelram-centred" in methods:
        path = args.calib_kv
        if path is None:
            name = ref.name if ref.name in models.MODELS else Path(str(args.model)).stem
            path = Path("build") / "kv" / f"{name}_calib.safetensors"
        if not Path(path).is_file():
            raise FileNotFoundError(f"srft-int4 and axelram-centred need a calibration KV dump; "
                                    f"{str(path)!r} not found (make kv-dump, or --calib-kv)")
        calib = read_kv_dump(path, expect_d=info.head_dim)
        if calib.layers != info.layers or calib.kv_heads != info.kv_heads:
            raise ValueError(f"calibration dump {path} has {calib.layers} layers x "
                             f"{calib.kv_heads} KV heads, the model {info.layers} x "
                             f"{info.kv_heads}")
    built = [make_method(m, info, bits[m], signs=signs, seed=args.seed, calib=calib,
                         values=args.values) for m in methods]

    text, text_description = corpus.read_text(args.text)
    corpus.check_text_length(text, args.tokens)
    packages.check_eval_packages()
    tokenizer = models.load_tokenizer(ref)
    windows = corpus.token_windows(tokenizer, text, args.ctx, args.tokens // args.ctx)
    return ref, info, built, windows, text_description


def run(args):
    from golden.evaluation import models
    from golden.evaluation.evaluator import Evaluator
    from golden.evaluation.methods.axelram_fixed import AxelramFixed
    from golden.evaluation.methods.fp16 import FP16
    from golden.evaluation.report import markdown_table

    start = time.monotonic()
    ref, info, methods, windows, text_description = prepare(args)
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"loading {ref.describe()}", flush=True)
    model = models.load_model(ref)
    print(f"{len(windows)} windows x {args.ctx} tokens of {args.text}; methods: "
          f"{', '.join(m.label for m in methods)}", flush=True)
    evaluator = Evaluator(model, windows, info=info)
    results = [] if any(isinstance(m, FP16) for m in methods) else [
        evaluator.run(FP16(info, values=args.values))]
    for m in methods:
        r = evaluator.run(m)
        if args.score_check and isinstance(m, AxelramFixed):
            r["score_check"] = _score_check(m, model, windows[0], info)
        results.append(r)
        print(f"  {m.label}: PPL {r['ppl']:.4f} (ΔPPL {r['dppl']:+.4f}), {r['seconds']:.0f} s",
              flush=True)
    table = markdown_table(results)
    print()
    print(table, end="")
    if args.out is not None:
        command = (f"axelram eval --model {args.model} --text {args.text} --method "
                   f"{args.method}" + (f" --b {args.b}" if args.b is not None else "")
                   + (f" --signs {args.signs}" if args.signs else "")
                   + f" --seed {args.seed} --values {args.values} --tokens {args.tokens} "
                     f"--ctx {args.ctx}")
        doc = {"format": "axelram-eval/1", "command": command,
               "model": ref.describe(), "text": text_description,
               "protocol": {"ctx": args.ctx, "windows": len(windows),
                            "tokens_scored": len(windows) * (args.ctx - 1),
                            "values": args.values, "threads": torch.get_num_threads()},
               "info": {"layers": info.layers, "heads": info.heads, "kv_heads": info.kv_heads,
                        "head_dim": info.head_dim},
               "results": results, "seconds": time.monotonic() - start}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        args.out.with_suffix(".md").write_text(table, encoding="utf-8")
        print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


def _score_check(method, model, ids, info, layers=(0, None), queries=8):
    """Relative RMS difference of FixedModel.score vs q . k~ on real keys/queries of one window
    (first and last layer, ``queries`` query rows of head 0)."""
    import torch

    from golden.evaluation.attention import AttentionHook, decoder_hidden
    from golden.evaluation.methods.fp16 import FP16

    captured = {}

    class Capture(FP16):
        needs_queries = True

        def keys(self, k, layer, q=None):
            captured[layer] = (k.copy(), q[0, -queries:].copy())
            return super().keys(k, layer)

    hook = AttentionHook(Capture(info))
    with torch.inference_mode():
        decoder_hidden(model.get_decoder(), hook, ids)
    out = {}
    for layer in layers:
        layer = info.layers - 1 if layer is None else layer
        k, q = captured[layer]
        out[str(layer)] = method.score_check(k[0], q, layer)
    return out
