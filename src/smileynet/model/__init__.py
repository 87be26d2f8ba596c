"""SmileyNet models: a backbone with its classifier replaced by one linear layer to the emojis."""

from smileynet.model.factory import ModelConfig, SmileyNet, create_model, list_archs
from smileynet.model.model_dir import load, save

__all__ = ["ModelConfig", "SmileyNet", "create_model", "list_archs", "load", "save"]
