"""The attention function that makes a transformers model read its keys (and values) from a
quantised cache.

:func:`register_attention` registers :data:`ATTENTION_NAME` through transformers'
``AttentionInterface`` (with the ``eager`` float mask). During :func:`decoder_hidden` the active
:class:`AttentionHook` receives every layer's post-RoPE query/key/value states, rounds keys and
values to fp16 (the reference cache), replaces the keys by the method's reconstruction
``method.keys(k, layer)`` (values by ``method.values``), and computes eager attention exactly as
transformers does (``q k^T * scaling + mask``, softmax in float32, GQA by repeating KV heads,
optional soft-capping). For methods with an fp16 residual window (``key_cutoff`` /
``value_cutoff``) each query mixes reconstructed and exact entries. The hook also accumulates the
relative pre-softmax score error on every ``stride``-th query row.

torch and transformers are imported inside the functions only.
"""

import math
import time

__all__ = ["ATTENTION_NAME", "register_attention", "decoder_hidden", "AttentionHook"]

ATTENTION_NAME = "axelram_eval"

_ACTIVE = None  # the AttentionHook of the running forward pass


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    if _ACTIVE is None:
        raise RuntimeError(f"the {ATTENTION_NAME} attention was called outside Evaluator")
    return _ACTIVE(module, query, key, value, attention_mask, scaling, kwargs)


def register_attention():
    """Register :data:`ATTENTION_NAME` (attention function and its eager float mask)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(ATTENTION_NAME, _attention)
    AttentionMaskInterface.register(ATTENTION_NAME, eager_mask)


def decoder_hidden(decoder, hook, ids):
    """Final hidden states ``[ctx, hidden]`` of one window ``ids`` (int array ``[ctx]``) run
    through ``decoder`` (no cache) with ``hook`` as every layer's attention."""
    global _ACTIVE
    import torch

    _ACTIVE = hook
    try:
        out = decoder(input_ids=torch.from_numpy(ids[None]), use_cache=False)
    finally:
        _ACTIVE = None
    return out.last_hidden_state[0]


def _repeat(x, rep):
    """KV heads repeated for grouped-query attention."""
    return x if rep == 1 else x.repeat_interleave(rep, dim=1)


class AttentionHook:
    """Replaces a layer's keys (and values) by the method's reconstruction, then runs eager
    attention; accumulates the relative score error on every ``stride``-th query row.

    Members
    -------
    seconds : float
        Time spent in the method's ``keys``/``values`` (quantising and reconstructing).
    """

    def __init__(self, method, stride=8):
        self.method, self.stride = method, stride
        self.num, self.den = {}, {}
        self.num_c, self.den_c = {}, {}
        self.seconds = 0.0

    def __call__(self, module, query, key, value, attention_mask, scaling, kwargs):
        import torch

        if kwargs.get("s_aux") is not None:
            raise NotImplementedError("attention sinks (s_aux) are not supported")
        if query.shape[0] != 1:
            raise ValueError("the evaluation runs one window (batch 1) at a time")
        layer = module.layer_idx
        _, hq, t, d = query.shape
        rep = hq // key.shape[1]
        if scaling is None:
            scaling = d ** -0.5
        k16, v16, kt, vt = self._reconstruct(query, key, value, layer)
        qf = query.float()
        scores, exact = self._scores(qf, kt, k16, rep, scaling)
        if attention_mask is None:
            attention_mask = torch.full((t, t), float("-inf")).triu(1)[None, None]
        mask = attention_mask[:, :, :, :t]
        self._accumulate(layer, qf, k16, scores, exact, mask, rep, scaling)
        out = self._attend(scores, mask, vt, v16, rep, kwargs.get("softcap"))
        return out.transpose(1, 2).contiguous().to(query.dtype), None

    def _reconstruct(self, query, key, value, layer):
        """The fp16 cache ``(k16, v16)`` and the method's reconstruction ``(kt, vt)``."""
        import torch

        m = self.method
        start = time.perf_counter()
        k16 = key.detach().to(torch.float16).to(torch.float32)
        v16 = value.detach().to(torch.float16).to(torch.float32)
        q_np = query[0].detach().float().numpy() if m.needs_queries else None
        kt = torch.from_numpy(m.keys(k16[0].numpy(), layer, q=q_np))[None]
        vt = torch.from_numpy(m.values(v16[0].numpy(), layer))[None]
        self.seconds += time.perf_counter() - start
        return k16, v16, kt, vt

    def _scores(self, qf, kt, k16, rep, scaling):
        """Pre-softmax scores from the reconstructed keys and, for a method with an fp16
        residual window, the exact scores (used where the query reads the key exactly)."""
        import torch

        t = qf.shape[2]
        scores = torch.matmul(qf, _repeat(kt, rep).transpose(2, 3)) * scaling
        kcut = self.method.key_cutoff(t)
        exact = None
        if kcut is not None:
            exact = torch.matmul(qf, _repeat(k16, rep).transpose(2, 3)) * scaling
            use = torch.arange(t)[None, :] < torch.from_numpy(kcut)[:, None]
            scores = torch.where(use, scores, exact)
        return scores, exact

    def _accumulate(self, layer, qf, k16, scores, exact, mask, rep, scaling):
        """Add the squared score error and squared reference scores of the sampled rows
        (pre-softmax, causal/visible entries only), plain and centred, to the layer's sums."""
        import torch

        rows = torch.arange(self.stride - 1, qf.shape[2], self.stride)
        if not len(rows):
            return
        ref = (exact[:, :, rows] if exact is not None
               else torch.matmul(qf[:, :, rows], _repeat(k16, rep).transpose(2, 3)) * scaling)
        visible = (mask[:, :, rows] == 0).to(ref.dtype)
        err = scores[:, :, rows] - ref
        diff = (err ** 2 * visible).sum().item()
        den = ((ref ** 2) * visible).sum().item()
        # centred: a per-query constant shift of the scores does not change the softmax
        count = visible.sum(-1, keepdim=True).clamp(min=1)
        err_c = err - (err * visible).sum(-1, keepdim=True) / count
        ref_c = ref - (ref * visible).sum(-1, keepdim=True) / count
        for acc, x in ((self.num, diff), (self.den, den),
                       (self.num_c, (err_c ** 2 * visible).sum().item()),
                       (self.den_c, (ref_c ** 2 * visible).sum().item())):
            acc[layer] = acc.get(layer, 0.0) + x

    def _attend(self, scores, mask, vt, v16, rep, softcap):
        """Softmax of the (soft-capped, masked) scores times the values; with a value residual
        window, exact values where the query reads them exactly."""
        import torch

        t = scores.shape[2]
        if softcap:
            scores = torch.tanh(scores / softcap) * softcap
        scores = scores + mask
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        vcut = self.method.value_cutoff(t)
        if vcut is None:
            return torch.matmul(probs, _repeat(vt, rep))
        use = (torch.arange(t)[None, :] < torch.from_numpy(vcut)[:, None]).to(probs.dtype)
        return (torch.matmul(probs * use, _repeat(vt, rep))
                + torch.matmul(probs * (1 - use), _repeat(v16, rep)))

    def score_errors(self, centred=False):
        """Relative RMS score error per layer; ``centred`` removes each query row's mean over
        its visible keys from both the error and the scores first (softmax-invariant part)."""
        num, den = (self.num_c, self.den_c) if centred else (self.num, self.den)
        return {layer: math.sqrt(num[layer] / den[layer]) if den[layer] else 0.0
                for layer in sorted(num)}
