"""Optional extras: which `pip install 'smileynet[...]'` a stage needs, said in one line.

The base install with [lite] predicts with an exported ONNX model; [torch] loads, predicts, embeds
and exports model dirs; every other stage names its extra here, and its CLI entry point calls
`require` first, so a missing package is one clear line rather than an ImportError from deep
inside the stage.
"""

from __future__ import annotations

import importlib.util

from smileynet.errors import UserError

# The modules each extra of pyproject.toml brings (import names, not distribution names).
TORCH = (
    "torch",
    "torchvision",
    "safetensors",
    "cv2",
    "simplejpeg",
    "scipy",
    "pyarrow",
    "webdataset",
    "onnx",
    "emosent",
)
EXTRAS: dict[str, tuple[str, ...]] = {
    "lite": ("onnxruntime",),
    "hub": ("huggingface_hub",),
    "torch": TORCH,
    "data": (
        "orjson",
        "zstandard",
        "distributed",
        "polars",
        "matplotlib",
        "img2dataset",
        "websockets",
        *TORCH,
    ),
    "train": ("tensorboard", "sklearn", "matplotlib", *TORCH),
    "serve": ("fastapi", "uvicorn", "python_multipart", "fastapi_offline", *TORCH),
    "report": ("matplotlib", "polars", "sklearn", *TORCH),
    "onnx": ("onnxruntime", "onnxscript", *TORCH),
    "spark": ("pyspark",),
    "timm": ("timm", *TORCH),
}
EXTRAS["all"] = tuple(dict.fromkeys(m for modules in EXTRAS.values() for m in modules))


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [name for name in EXTRAS[extra] if _find(name) is None]


def installed(extra: str) -> bool:
    """Whether every module of `extra` can be imported here."""
    return not missing_modules(extra)


def require(extra: str, what: str) -> None:
    """Raise UserError naming the install command when a module of `extra` is missing.

    `what` names the command or feature in the message (`smileynet train`, `--backend onnx`)."""
    missing = missing_modules(extra)
    if missing:
        raise UserError(
            f"{what} needs the [{extra}] extra (missing: {', '.join(missing)}): pip install 'smileynet[{extra}]'"
        )


def _find(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a parent package missing, or a module without a spec
        return None
