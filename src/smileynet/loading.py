"""`smileynet.load`: whatever names a model -> a ready model, with the install's own runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smileynet.extras import installed, require


def load(model: str | Path, device: str = "cpu") -> Any:
    """A model dir, run folder or one of a model dir's files -> SmileyNet (needs [torch]); an
    exported `.onnx` file -> OnnxModel (needs only [lite]: no torch); `hf-hub:USER/NAME` -> the
    hub repo's model dir where torch is installed, else its model.onnx.

    Both have `predict(images, top_k)`, `embed(images)`, `preprocess(images)` and `vocab`."""
    from smileynet.model.hub import resolve

    path = resolve(model, onnx=not installed("torch"))
    if path.suffix == ".onnx":
        require("lite", "an .onnx model")
        from smileynet.inference.runtime import OnnxModel

        return OnnxModel(path)
    require("torch", "a model dir")
    from smileynet.model.model_dir import load as load_dir

    return load_dir(path, device=device)
