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

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.inference.extraction import Extraction as Extraction
    from smileynet.inference.extraction import as_inputs as as_inputs
    from smileynet.inference.extraction import extract as extract
    from smileynet.inference.extraction import iter_extract as iter_extract
    from smileynet.inference.predict import Embedding as Embedding
    from smileynet.inference.predict import top_emojis as top_emojis
    from smileynet.inference.runtime import OnnxModel as OnnxModel
    from smileynet.inference.runtime import OnnxRunner as OnnxRunner
    from smileynet.inference.runtime import make_runner as make_runner
    from smileynet.inference.torch_runtime import TorchRunner as TorchRunner
    from smileynet.inference.torch_runtime import export_onnx as export_onnx

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
