"""The perplexity run: a model over fixed token windows, one method at a time, compared with the
fp16-cache run of the same windows (see the package docstring for the protocol)."""

import math
import sys
import time

import numpy as np

from .attention import ATTENTION_NAME, AttentionHook, decoder_hidden, register_attention
from .methods.fp16 import FP16

__all__ = ["DEFAULT_CTX", "Evaluator"]

#: Default window length in tokens.
DEFAULT_CTX = 1024


class Evaluator:
    """Runs methods over fixed token windows of one model and compares them with the fp16 cache.

    Parameters
    ----------
    model : transformers causal LM (float32, CPU), e.g. from
        :func:`golden.evaluation.models.load_model`
    windows : int array [windows, ctx]
    progress : bool or None
        tqdm bar over windows; ``None`` = only when stderr is a terminal.
    chunk : int
        Rows of logits computed at a time (memory: chunk x vocab floats, twice).
    """

    def __init__(self, model, windows, *, info=None, progress=None, chunk=256, stride=8):
        import torch

        register_attention()
        if hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(ATTENTION_NAME)
        else:  # pragma: no cover - older transformers
            model.config._attn_implementation = ATTENTION_NAME
        self.model = model
        self.windows = np.asarray(windows, dtype=np.int64)
        if self.windows.ndim != 2 or self.windows.shape[1] < 2:
            raise ValueError(f"windows must be [windows, ctx >= 2], not {self.windows.shape}")
        self.info = info
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.chunk, self.stride = chunk, stride
        self.decoder = model.get_decoder()
        self.head = model.get_output_embeddings()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)
        self.reference = None          # per window: final hidden states [ctx, hidden]
        self.reference_result = None
        self._torch = torch

    def _logprobs(self, h):
        torch = self._torch
        logits = self.head(h).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return torch.log_softmax(logits, dim=-1)

    def run(self, method, fp16_method=None):
        """Evaluate ``method``; runs the fp16 reference first if it has not run yet (then
        ``fp16_method`` or a plain :class:`FP16` builds it). Returns a result dict."""
        if self.reference is None and not isinstance(method, FP16):
            self.run(fp16_method or FP16(method.info))
        is_ref = self.reference is None
        hook = AttentionHook(method, self.stride)
        start = time.perf_counter()
        totals, hidden = self._score_windows(method, hook, is_ref)
        seconds = time.perf_counter() - start
        if is_ref:
            self.reference = hidden
        result = self._result(method, hook, totals, seconds)
        if is_ref:
            self.reference_result = result
        ref = self.reference_result
        result["ppl_ref"] = ref["ppl"]
        result["dppl"] = result["ppl"] - ref["ppl"]
        return result

    def _score_windows(self, method, hook, is_ref):
        """Run every window with ``hook``; returns the summed NLL, KL and top-1 agreement with
        the number of scored tokens, and (for the reference run) the hidden states."""
        from tqdm.auto import tqdm

        torch = self._torch
        nll = kl = 0.0
        agree = scored = 0
        hidden = []
        with torch.inference_mode():
            bar = tqdm(range(len(self.windows)), desc=method.label, unit="window",
                       disable=not self.progress, leave=False)
            for w in bar:
                ids = self.windows[w]
                h = decoder_hidden(self.decoder, hook, ids)
                if is_ref:
                    hidden.append(h)
                t = len(ids) - 1
                targets = torch.from_numpy(ids[1:])
                for c0 in range(0, t, self.chunk):
                    c1 = min(t, c0 + self.chunk)
                    lp = self._logprobs(h[c0:c1])
                    nll -= lp.gather(1, targets[c0:c1, None]).sum().item()
                    if not is_ref:
                        lr = self._logprobs(self.reference[w][c0:c1])
                        kl += (lr.exp() * (lr - lp)).sum().item()
                        agree += (lr.argmax(-1) == lp.argmax(-1)).sum().item()
                    else:
                        agree += c1 - c0
                scored += t
        return {"nll": nll, "kl": kl, "agree": agree, "scored": scored}, hidden

    def _result(self, method, hook, totals, seconds):
        """The result dict of one run (without the reference's ``ppl_ref`` / ``dppl``)."""
        nll, kl, agree, scored = (totals[k] for k in ("nll", "kl", "agree", "scored"))
        errs = hook.score_errors()
        errc = hook.score_errors(centred=True)
        return {
            **method.describe(),
            "windows": int(len(self.windows)), "ctx": int(self.windows.shape[1]),
            "tokens_scored": int(scored),
            "nll": nll / scored, "ppl": math.exp(nll / scored),
            "kl": kl / scored, "top1": agree / scored,
            "score_error_mean": float(np.mean(list(errs.values()))) if errs else 0.0,
            "score_error_max": float(max(errs.values())) if errs else 0.0,
            "score_error_max_layer": int(max(errs, key=errs.get)) if errs else None,
            "score_error_per_layer": [errs[k] for k in sorted(errs)],
            "score_error_centred_mean": float(np.mean(list(errc.values()))) if errc else 0.0,
            "score_error_centred_max": float(max(errc.values())) if errc else 0.0,
            "score_error_centred_per_layer": [errc[k] for k in sorted(errc)],
            "seconds": seconds, "quantise_seconds": hook.seconds,
        }
