"""SmileyNet: emoji embedding for visual sentiment analysis (Al-Halah et al., ICCV-W 2019).

`smileynet.load(path)` returns a trained model; `smileynet.create_model(arch, ...)` a new one.
Imported lazily so that `import smileynet` (and the CLI's start) stays fast without torch.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["create_model", "load", "__version__"]


def __getattr__(name: str):
    if name in ("load", "create_model"):
        from smileynet import model

        return getattr(model, name)
    raise AttributeError(f"module 'smileynet' has no attribute {name!r}")
