"""Static int8 quantisation of an exported model with ONNX Runtime's tools, calibrated on real images.

Optional and lossy: the int8 graph is faster on CPUs with VNNI/AMX but its probabilities differ
from the float model's (`benchmarks/bench_embed.py` measures speed and top-1 agreement). The
float export stays the default everywhere.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from smileynet.inference.runtime import INPUT_NAME


class _Batches:
    """onnxruntime.quantization's CalibrationDataReader over uint8 image batches."""

    def __init__(self, batches: Iterable[torch.Tensor]) -> None:
        self._batches = iter([{INPUT_NAME: b.numpy()} for b in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(onnx_model: bytes, calibration: Iterable[torch.Tensor], per_channel: bool = True) -> bytes:
    """int8 weights and activations (QDQ format, U8 activations, S8 per-channel weights) for the
    backbone; the emoji head (one small Gemm) stays float. Activation ranges are the 99.999th
    percentile over `calibration`: on ResNet50 this kept top-1 where min/max ranges lost 12 %
    (benchmarks/README.md). The graph's metadata (vocabulary, image size) is kept."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = onnx.load_from_string(onnx_model)
    with tempfile.TemporaryDirectory() as tmp:
        raw, prepared, quantized = Path(tmp, "fp32.onnx"), Path(tmp, "prep.onnx"), Path(tmp, "int8.onnx")
        raw.write_bytes(onnx_model)
        quant_pre_process(str(raw), str(prepared), skip_symbolic_shape=True)
        head = [node.name for node in onnx.load(str(prepared)).graph.node if node.op_type in ("Gemm", "MatMul")]
        with contextlib.redirect_stdout(sys.stderr):  # the calibrator prints progress; stdout is for results
            quantize_static(
                str(prepared),
                str(quantized),
                _Batches(calibration),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=per_channel,
                calibrate_method=CalibrationMethod.Percentile,
                nodes_to_exclude=head,
            )
        result = onnx.load(str(quantized))
    del result.metadata_props[:]
    result.metadata_props.extend(source.metadata_props)
    return result.SerializeToString()
