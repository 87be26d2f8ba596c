"""torch.hub entry point: `torch.hub.load(REPO_DIR, "smileynet", source="local", weights=MODEL_DIR)`.

No pretrained SmileyNet weights are published: the entry point loads a model you trained (a
model dir or a run folder) and refuses to hand back an untrained network in its place.
"""

import sys
from pathlib import Path

dependencies = ["torch", "torchvision", "safetensors"]

try:
    import smileynet as _smileynet  # noqa: F401
except ImportError:  # a plain clone, not installed: use its src/ folder
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))


def smileynet(weights=None, pretrained: bool = False, device: str = "cpu"):
    """The trained SmileyNet in `weights` (a model dir, a run folder, or the model dir's config.json /
    model.safetensors), in eval mode on `device`. For a new untrained model use `smileynet.create_model`."""
    from smileynet.errors import UserError
    from smileynet.model import load
    from smileynet.model.factory import NO_PUBLISHED_WEIGHTS

    if (
        pretrained is not False
        or weights is None
        or not isinstance(weights, (str, Path))
        or str(weights).upper() == "DEFAULT"
    ):
        raise UserError(NO_PUBLISHED_WEIGHTS)
    return load(weights, device=device)
