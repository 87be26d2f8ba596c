"""SmileyNet: emoji embedding for visual sentiment analysis (Al-Halah et al., ICCV-W 2019).

    model = smileynet.load("run/model")          # a model dir (config.json + model.safetensors)
    model = smileynet.load("model.onnx")         # an exported model: no torch needed ([lite])
    model = smileynet.load("hf-hub:USER/NAME")   # shared on the Hugging Face Hub (`smileynet push`)
    smileynet.predict(model, images, top_k=5)    # per image: [{emoji, name, probability}, ...]
    smileynet.embed(model, images)               # Embedding(logits, probs): the emoji embedding
    smileynet.create_model(arch, num_classes=92) # a new model; smileynet.list_archs() names them
    smileynet.build_loader(data, split, ...)     # training batches from shards or a release folder

Imported lazily so that `import smileynet` (and the CLI's start) stays fast without torch.
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:
    from smileynet.data.loader import build_loader as build_loader
    from smileynet.inference.predict import embed as embed
    from smileynet.inference.predict import predict as predict
    from smileynet.loading import load as load
    from smileynet.model import create_model as create_model
    from smileynet.model import list_archs as list_archs

__version__ = "0.1.0"
_EXPORTS = {
    "load": "loading",
    "create_model": "model",
    "list_archs": "model",
    "predict": "inference.predict",
    "embed": "inference.predict",
    "build_loader": "data.loader",
}
__all__ = [*sorted(_EXPORTS), "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
