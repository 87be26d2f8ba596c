"""torch.hub entry point: `torch.hub.load(REPO_DIR, "smileynet", source="local", weights=MODEL_DIR)`."""

import sys
from pathlib import Path

dependencies = ["torch", "torchvision", "safetensors"]

try:
    import smileynet as _smileynet  # noqa: F401
except ImportError:  # a plain clone, not installed: use its src/ folder
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))


def smileynet(weights=None, arch: str = "resnet50", num_classes: int = 92, **kwargs):
    """A trained SmileyNet from `weights` (a model dir, or its config.json / model.safetensors),
    in eval mode; without weights, a new untrained model built by `create_model(arch, num_classes, ...)`."""
    from smileynet.model import create_model, load

    device = kwargs.pop("device", "cpu")
    if weights is not None:
        return load(weights, device=device)
    return create_model(arch, num_classes=num_classes, **kwargs).to(device).eval()
