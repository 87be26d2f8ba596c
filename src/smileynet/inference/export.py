"""`smileynet export`: the model as an ONNX file, checked against PyTorch before it is kept.

The graph takes uint8 pixels N x 3 x S x S (the eval crop, see `model.transforms.eval_transform`)
and returns `logits` (the emoji embedding) and `features` (pre-logits); the model's config
(vocabulary, image size, mean/std) is in the file's metadata under `smileynet_config`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from smileynet.errors import UserError

MAX_PROB_DIFF = 1e-4


def parity(model, onnx_bytes: bytes, images: torch.Tensor, top_k: int = 5) -> dict:
    """How far ONNX Runtime is from PyTorch on `images` (uint8): max abs prob diff, same top-k."""
    from scipy.special import expit

    from smileynet.inference.runtime import OnnxRunner
    from smileynet.inference.torch_runtime import TorchRunner

    torch_logits, _ = TorchRunner(model)(images)
    onnx_logits, _ = OnnxRunner(onnx_bytes, config=model.config)(images)
    k = min(top_k, torch_logits.shape[1])
    same_top = all(
        list(np.argsort(-a, kind="stable")[:k]) == list(np.argsort(-b, kind="stable")[:k])
        for a, b in zip(torch_logits, onnx_logits)
    )
    diff = float(np.abs(expit(torch_logits) - expit(onnx_logits)).max())
    return {"max_abs_prob_diff": diff, f"same_top{k}": same_top, "images": int(images.shape[0])}


def export(
    model_dir: Path,
    onnx_path: Path,
    check: bool | None = None,
    seed: int = 0,
    int8_calibration: Path | None = None,
    calibration_images: int = 64,
) -> dict:
    """Export, then (with `check`; None: when ONNX Runtime is installed) compare ONNX Runtime with
    PyTorch on random images before writing the file.

    With `int8_calibration` (an image folder), the file is the int8 quantisation instead, its
    ranges taken from up to `calibration_images` of those images; its top-1 agreement with the
    float model on them is reported (int8 is lossy, so no parity is required)."""
    from smileynet.inference.runtime import onnx_available
    from smileynet.inference.torch_runtime import export_onnx, load_model

    if onnx_path.suffix != ".onnx":
        raise UserError(f"--out must name a .onnx file: {onnx_path}")
    model = load_model(model_dir).cpu().eval()
    data = export_onnx(model)
    summary: dict = {
        "onnx": str(onnx_path),
        "bytes": len(data),
        "num_classes": model.config.num_classes,
        "image_size": model.config.image_size,
    }
    if check is None:
        check = onnx_available()
        if not check:
            summary["parity"] = "not checked: pip install 'smileynet[onnx]' to compare with ONNX Runtime"
    if check:
        size = model.config.image_size
        images = torch.randint(
            0, 256, (4, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
        )
        summary["parity"] = result = parity(model, data, images)
        if result["max_abs_prob_diff"] >= MAX_PROB_DIFF or not all(
            v for k, v in result.items() if k.startswith("same_top")
        ):
            raise UserError(f"the ONNX export does not match PyTorch ({result}); not written")
    if int8_calibration is not None:
        data, summary["int8"] = quantized(model, data, int8_calibration, calibration_images)
        summary["bytes"] = len(data)
    from smileynet.files import atomic_write_bytes

    atomic_write_bytes(onnx_path, data)
    return summary


def quantized(model, data: bytes, folder: Path, limit: int) -> tuple[bytes, dict]:
    """The int8 graph calibrated on images of `folder`, and its top-1 agreement with the float model there."""
    from smileynet.data.transforms import eval_transform
    from smileynet.images import BadImage
    from smileynet.inference.extraction import decode, extract
    from smileynet.inference.predict import image_paths
    from smileynet.inference.quantize import quantize_int8
    from smileynet.inference.runtime import OnnxRunner

    transform = eval_transform(model.config.image_size)
    tensors = []
    for path in image_paths([Path(folder)]):
        try:
            tensors.append(decode(path, transform))
        except BadImage:
            continue
        if len(tensors) == limit:
            break
    if not tensors:
        raise UserError(f"no usable calibration images in {folder}")
    batch = torch.stack(tensors)
    int8 = quantize_int8(data, batch.split(32))
    reference = extract(model, list(batch)).logits
    assert reference is not None, "decoded tensors always give rows"
    logits, _ = OnnxRunner(int8, config=model.config)(batch)
    assert reference is not None  # extract's default features are the logits
    return int8, {
        "calibration_images": len(tensors),
        "top1_agreement": float((logits.argmax(1) == reference.argmax(1)).mean()),
    }
