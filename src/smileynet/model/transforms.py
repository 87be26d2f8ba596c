"""Preprocessing that travels with a model: the paper's training augmentation and the eval crop.

Normalisation is left out of the CPU transforms on purpose: images stay uint8 tensors until
they are on the device, where `normalize` runs (less host work and 4x smaller host->device copies).
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from smileynet.model.factory import ModelConfig


def train_transform(image_size: int, scale: tuple[float, float] = (0.08, 1.0)) -> v2.Compose:
    """Random resized crop (scaling) + horizontal flip, as the paper trains; uint8 CHW out."""
    return v2.Compose([
        v2.PILToTensor(),
        v2.RandomResizedCrop(image_size, scale=scale, antialias=True),
        v2.RandomHorizontalFlip(),
    ])


def eval_transform(image_size: int) -> v2.Compose:
    """Resize the short side to image_size / 0.875, centre crop; uint8 CHW out."""
    return v2.Compose([
        v2.PILToTensor(),
        v2.Resize(int(round(image_size / 0.875)), antialias=True),
        v2.CenterCrop(image_size),
    ])


def normalize(batch: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """uint8 NCHW on any device -> float normalised with the model's mean/std."""
    mean = torch.tensor(config.mean, device=batch.device).view(1, -1, 1, 1) * 255.0
    std = torch.tensor(config.std, device=batch.device).view(1, -1, 1, 1) * 255.0
    return (batch.float() - mean) / std
