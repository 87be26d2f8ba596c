"""SmileyNet models: a backbone with its classifier replaced by one linear layer to the emojis.

Imported lazily: `ModelConfig` (model.config) reads a config without torch; the rest needs it.
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:
    from smileynet.model.config import ModelConfig as ModelConfig
    from smileynet.model.factory import SmileyNet as SmileyNet
    from smileynet.model.factory import create_model as create_model
    from smileynet.model.factory import list_archs as list_archs
    from smileynet.model.model_dir import load as load
    from smileynet.model.model_dir import save as save

_EXPORTS = {
    "ModelConfig": "config",
    "SmileyNet": "factory",
    "create_model": "factory",
    "list_archs": "factory",
    "load": "model_dir",
    "save": "model_dir",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
