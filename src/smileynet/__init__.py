"""SmileyNet: emoji embedding for visual sentiment analysis (Al-Halah et al., ICCV-W 2019).

    model = smileynet.load("run/model")          # a model dir (config.json + model.safetensors)
    smileynet.predict(model, images, top_k=5)    # per image: [{emoji, name, prob}, ...]
    smileynet.embed(model, images)               # Embedding(logits, probs): the emoji embedding
    smileynet.create_model(arch, num_classes=92) # a new model; smileynet.list_archs() names them
    smileynet.build_loader(data, split, ...)     # training batches from shards or a release folder

Imported lazily so that `import smileynet` (and the CLI's start) stays fast without torch.
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.data.loader import build_loader as build_loader
    from smileynet.inference.predict import embed as embed
    from smileynet.inference.predict import predict as predict
    from smileynet.model import create_model as create_model
    from smileynet.model import list_archs as list_archs
    from smileynet.model import load as load

__version__ = "0.1.0"
_EXPORTS = {
    "load": "model",
    "create_model": "model",
    "list_archs": "model",
    "predict": "inference.predict",
    "embed": "inference.predict",
    "build_loader": "data.loader",
}
__all__ = [*sorted(_EXPORTS), "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
