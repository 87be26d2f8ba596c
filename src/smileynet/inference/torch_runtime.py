"""The PyTorch side of the runtimes (`smileynet.inference.runtime` holds ONNX Runtime and the
choice between them): eager PyTorch, and the export of a model to an ONNX graph from raw pixels."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from smileynet.data.transforms import normalize
from smileynet.errors import UserError
from smileynet.inference.runtime import INPUT_NAME, OUTPUT_NAMES
from smileynet.model.config import ModelConfig
from smileynet.model.factory import SmileyNet

OPSET = 17


def load_model(model: SmileyNet | str | Path, device: str | None = None) -> SmileyNet:
    """A SmileyNet as given, or loaded from a model dir path."""
    if isinstance(model, (str, Path)):
        from smileynet.model import load

        return load(model, device=device or "cpu")
    if not isinstance(model, SmileyNet):
        raise UserError(f"expected a SmileyNet or a model dir, not {type(model).__name__}")
    return model


class PixelsToOutputs(nn.Module):
    """uint8 pixels -> (logits, features): normalisation inside the graph, both outputs at once."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: SmileyNet) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(model.config.mean).view(1, 3, 1, 1) * 255.0, persistent=False)
        self.register_buffer("std", torch.tensor(model.config.std).view(1, 3, 1, 1) * 255.0, persistent=False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (images.float() - self.mean) / self.std
        features = self.model.forward_features(x)
        return self.model.forward_head(features), features


class TorchRunner:
    """Eager PyTorch on the model's device, under inference_mode; optional bf16 autocast.

    The model is put in eval mode and, on CPU, in channels_last memory format (oneDNN's fast
    path: x1.4 for ResNet50 here; the outputs are the same)."""

    def __init__(self, model: SmileyNet, precision: str = "fp32") -> None:
        if precision not in ("fp32", "bf16"):
            raise UserError(f"precision must be fp32 or bf16, not {precision!r}")
        self.model = model.eval()
        self.config: ModelConfig = model.config
        self.num_features = model.num_features
        self.device = next(model.parameters()).device
        self.precision = precision
        self.memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)

    def __call__(
        self, batch: torch.Tensor | np.ndarray, want_pre_logits: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        with torch.inference_mode():
            x = normalize(torch.as_tensor(batch).to(self.device, non_blocking=True), self.config)
            x = x.contiguous(memory_format=self.memory_format)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                features = self.model.forward_features(x)
                logits = self.model.forward_head(features)
            pre = features.float().cpu().numpy() if want_pre_logits else None
            return logits.float().cpu().numpy(), pre


def export_onnx(model: SmileyNet, path: str | Path | None = None, opset: int = OPSET) -> bytes:
    """The model as an ONNX graph from uint8 pixels (dynamic batch) to `logits` and `features`.

    Written atomically to `path` when given; the bytes are returned either way."""
    import onnx

    from smileynet.files import atomic_write_bytes

    size = model.config.image_size
    wrapper = PixelsToOutputs(model).eval().cpu()
    example = torch.zeros(1, 3, size, size, dtype=torch.uint8)
    buffer = io.BytesIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter on purpose: the torch.export one needs onnxscript, which the
        # [torch] install (load, predict, embed, export) does not have. Its deprecation notices
        # (and those of the torch internals it calls) are torch's, not the user's to act on.
        warnings.filterwarnings("ignore", "You are using the legacy TorchScript-based ONNX export", DeprecationWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx\.")
        torch.onnx.export(
            wrapper,
            (example,),
            buffer,  # type: ignore[arg-type]  # a file object is accepted with dynamo=False
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
        )
    graph = onnx.load_from_string(buffer.getvalue())
    meta = {
        "smileynet_config": json.dumps(model.config.to_dict(), ensure_ascii=False),
        "smileynet_preprocess": json.dumps(model.config.preprocess_recipe()),
        "smileynet_input": "uint8 N x 3 x S x S RGB: the recipe's centre crop before scaling; the graph normalises",
    }
    for key, value in meta.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    data = graph.SerializeToString()
    if path is not None:
        atomic_write_bytes(path, data)
    return data
