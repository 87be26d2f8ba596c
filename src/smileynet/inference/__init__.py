"""predict, embed, export: inference on a trained model.

    extract(model, inputs, batch_size=32, features="logits"|"pre_logits"|"both",
            backend="torch"|"onnx"|"auto", workers=0) -> Extraction(ids, logits, pre_logits, failures)
    iter_extract(model, (id, source) pairs, ...) -> one Extraction per batch (streaming)
    embed_images(model, images) -> Embedding(logits, probs)     (what SmileyNet.embed returns)
    top_emojis(probs, vocab, top_k) -> per row [{emoji, name, prob}, ...]   (SmileyNet.predict)
    export_onnx(model, path) -> ONNX bytes (uint8 pixels in; logits and features out)
    make_runner(model, backend) -> a reusable runner (pass it as `model` to skip re-exporting)

Imported lazily: `smileynet --help` must not pay for torch.
"""

from __future__ import annotations

_EXPORTS = {
    "Extraction": "extraction", "extract": "extraction", "iter_extract": "extraction", "as_inputs": "extraction",
    "Embedding": "predict", "embed_images": "predict", "top_emojis": "predict",
    "export_onnx": "runtime", "make_runner": "runtime", "TorchRunner": "runtime", "OnnxRunner": "runtime",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module = importlib.import_module(f"smileynet.inference.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'smileynet.inference' has no attribute {name!r}")
