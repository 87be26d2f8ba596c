"""Runtimes that turn a uint8 image batch into (logits, pre-logit features): PyTorch or ONNX Runtime.

Both take the same input (uint8 N x 3 x S x S, the eval crop) and normalise inside, so an
exported ONNX file is self-contained: its graph starts from raw pixels and carries the model's
vocabulary, image size and preprocess recipe in its metadata. This module needs neither torch nor
OpenCV: the light install (`smileynet[lite]`) runs an .onnx file with it; the PyTorch runtime and
the export are in `smileynet.inference.torch_runtime`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from smileynet.errors import UserError
from smileynet.extras import installed, require
from smileynet.files import parse_json
from smileynet.inference.preprocess import Recipe, normalized
from smileynet.model.config import ModelConfig

BACKENDS = ("torch", "onnx", "auto")
INPUT_NAME = "images"
OUTPUT_NAMES = ("logits", "features")


def session_options(threads: int | None = None):
    """ONNX Runtime with every graph optimisation and one intra-op thread per core."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or _torch_threads() or os.cpu_count() or 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


class OnnxRunner:
    """ONNX Runtime (CPU) on an exported graph; same inputs and outputs as TorchRunner."""

    def __init__(
        self, onnx_model: bytes | str | Path, config: ModelConfig | None = None, threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        source = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
        try:
            self.session = ort.InferenceSession(source, session_options(threads), providers=["CPUExecutionProvider"])
        except Exception as err:
            raise UserError(f"cannot load the ONNX model ({type(err).__name__}: {err})") from None
        if config is None:
            meta = self.session.get_modelmeta().custom_metadata_map
            config = ModelConfig.from_dict(_metadata_json(meta, "smileynet_config"), "ONNX model metadata", build=False)
            self.num_features = check_graph(self.session, config)  # the graph first: what the file really computes
            recipe = (  # files exported before the recipe was in the metadata: the one the config derives
                Recipe.from_dict(_metadata_json(meta, "smileynet_preprocess"), "ONNX model metadata")
                if "smileynet_preprocess" in meta
                else Recipe.from_dict(config.preprocess_recipe(), "ONNX model metadata")
            )
            if recipe.input_size != config.image_size:
                raise UserError("ONNX model metadata: the preprocess input_size is not the model's image_size")
        else:
            self.num_features = check_graph(self.session, config)
            recipe = Recipe.from_dict(config.preprocess_recipe(), "model config")
        self.config = config
        self.recipe = recipe

    def __call__(self, batch: Any, want_pre_logits: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 N x 3 x S x S (numpy, or a CPU tensor) -> logits (and features)."""
        names = list(OUTPUT_NAMES) if want_pre_logits else ["logits"]
        outputs = self.session.run(names, {INPUT_NAME: np.asarray(batch)})
        return outputs[0], (outputs[1] if want_pre_logits else None)


def check_graph(session: Any, config: ModelConfig) -> int:
    """The graph's number of features, once its input and outputs are what `export_onnx` writes
    and agree with `config` (crop size, emoji count); else one UserError saying what differs."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    sizes = {"crop": config.image_size, "emojis": config.num_classes}
    if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != list(OUTPUT_NAMES):
        raise UserError(
            f"ONNX model: expected input {INPUT_NAME} and outputs {', '.join(OUTPUT_NAMES)}, got "
            f"{', '.join(i.name for i in inputs)[:60]} and {', '.join(o.name for o in outputs)[:60]}"
        )
    pixels, logits, features = inputs[0], outputs[0], outputs[1]
    if pixels.type != "tensor(uint8)" or len(pixels.shape) != 4 or len(logits.shape) != 2 or len(features.shape) != 2:
        raise UserError("ONNX model: expected uint8 N x 3 x S x S pixels in, N x C logits and N x F features out")
    for what, dim, wanted in (
        ("channels", pixels.shape[1], 3),
        ("crop", pixels.shape[2], sizes["crop"]),
        ("crop", pixels.shape[3], sizes["crop"]),
        ("emojis", logits.shape[1], sizes["emojis"]),
    ):
        if dim != wanted:
            raise UserError(f"ONNX model: its graph has {str(dim)[:20]} {what} where its metadata says {wanted}")
    if not isinstance(features.shape[1], int) or features.shape[1] < 1:
        raise UserError("ONNX model: its features output has no fixed size")
    return features.shape[1]


class OnnxModel(OnnxRunner):
    """What `smileynet.load("model.onnx")` returns: an exported model with the methods of a
    SmileyNet that need no torch (`predict`, `embed`, `preprocess`, `vocab`)."""

    @property
    def vocab(self) -> list[str]:
        return list(self.config.vocab)

    def preprocess(self, images: Any) -> np.ndarray:
        """One image (PIL, array, path, bytes) or a list -> float32 N x 3 x S x S by the file's
        recipe (decoded upright RGB, resized, centre-cropped, normalised). A bad image raises BadImage."""
        from smileynet.images import decode_rgb_array
        from smileynet.inference.preprocess import RecipeCrop

        crop = RecipeCrop(self.recipe)
        many = images if isinstance(images, (list, tuple)) else [images]
        return normalized(np.stack([crop(decode_rgb_array(image)) for image in many]), self.recipe)

    def predict(self, images: Any, top_k: int = 5, *, batch_size: int = 32) -> list[list[dict]]:
        """Per image, its `top_k` emojis {emoji, name, probability}, highest first; a bad image raises BadImage."""
        from smileynet.inference.predict import predict

        return predict(self, images, top_k, batch_size=batch_size, backend="onnx")

    def embed(self, images: Any, *, batch_size: int = 32) -> Any:
        """`Embedding(logits, probs)` of each image, float32 N x num_classes."""
        from smileynet.inference.predict import embed

        return embed(self, images, batch_size=batch_size, backend="onnx")


def onnx_available() -> bool:
    return installed("lite")


def _torch_threads() -> int:
    """torch's intra-op thread count where torch is already imported (the two runtimes then agree)."""
    import sys

    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else 0


def _metadata_json(meta: dict[str, str], key: str) -> Any:
    raw = meta.get(key)
    if raw is None:
        raise UserError(f"ONNX model lacks SmileyNet metadata {key} (export it with `smileynet export`)")
    try:
        return parse_json(raw)
    except ValueError:
        raise UserError(f"ONNX model: its metadata {key} is not JSON") from None


def make_runner(model: Any, backend: str = "torch", batch_size: int = 32, precision: str = "fp32", device: str = "cpu"):
    """A runner for `model` (SmileyNet, model dir, .onnx file, or `hf-hub:USER/NAME`) on `backend`;
    a model dir is loaded on `device`.

    "auto" picks ONNX Runtime for a CPU model when it is installed (faster than eager PyTorch on
    CPU, see benchmarks/README.md) and PyTorch on a GPU. Without torch (the light install) only an
    .onnx file runs, and a hub model is fetched as its model.onnx."""
    if backend not in BACKENDS:
        raise UserError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if isinstance(model, OnnxRunner):
        return model
    if isinstance(model, (str, Path)):
        from smileynet.model.hub import resolve

        model = resolve(model, onnx=backend != "torch" and not installed("torch"))
        if str(model).endswith(".onnx"):
            if backend == "torch":
                raise UserError("an .onnx file runs on the onnx backend only")
            require("lite", "an .onnx model")
            return OnnxRunner(Path(model))
        require("torch", "a model dir")
    from smileynet.inference.torch_runtime import TorchRunner, export_onnx, load_model

    if isinstance(model, TorchRunner):
        return model
    model = load_model(model, device)
    on_cpu = next(model.parameters()).device.type == "cpu"
    if backend == "auto":
        backend = "onnx" if on_cpu and onnx_available() and precision == "fp32" else "torch"
    if backend == "onnx":
        require("onnx", "--backend onnx")
        return OnnxRunner(export_onnx(model), config=model.config)
    return TorchRunner(model, precision=precision)
