"""predict, embed, export: inference on a trained model.

    extract(model, inputs, batch_size=32, features="logits"|"pre_logits"|"both",
            backend="torch"|"onnx"|"auto", workers=0) -> Extraction(ids, logits, pre_logits, failures)
    iter_extract(model, (id, source) pairs, ...) -> one Extraction per batch (streaming)
    smileynet.predict(model, images, top_k=5) -> per image [{emoji, name, probability}, ...]
    smileynet.embed(model, images) -> Embedding(logits, probs)
    top_emojis(probs, vocab, top_k) -> per row [{emoji, name, probability}, ...]
    export_onnx(model, path) -> ONNX bytes (uint8 pixels in; logits and features out)
    make_runner(model, backend) -> a reusable runner (pass it as `model` to skip re-exporting)

Imported lazily: `smileynet --help` must not pay for torch.
"""

from __future__ import annotations

from smileynet.lazy import lazy_exports

_EXPORTS = {
    "Extraction": "extraction",
    "extract": "extraction",
    "iter_extract": "extraction",
    "as_inputs": "extraction",
    "Embedding": "predict",
    "top_emojis": "predict",
    "export_onnx": "torch_runtime",
    "make_runner": "runtime",
    "TorchRunner": "torch_runtime",
    "OnnxRunner": "runtime",
    "OnnxModel": "runtime",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
