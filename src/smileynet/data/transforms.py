"""Preprocessing that travels with a model: the paper's training augmentation and the eval crop.

Normalisation is left out of the CPU transforms on purpose: images stay uint8 tensors until
they are on the device, where `normalize` runs (less host work and 4x smaller host->device copies).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np
import torch

from smileynet.contracts import eval_resize_size

# The official training code's RandomResizedCrop area range (its `--input_aug`); torchvision's
# own default is (0.08, 1). The paper only says "random crop with flip and scaling".
TRAIN_CROP_SCALE = (0.5, 1.0)


class CropTransform:
    """What the loaders take: an S x S crop of an RGB array written into a slot of the batch, from
    `draws_per_image` uniform numbers the caller draws (one seeded call per batch)."""

    size: int
    draws_per_image = 0

    def apply(self, pixels: np.ndarray, draws: list[float], out: np.ndarray) -> None:
        """Crop RGB H x W x 3 `pixels` into `out` (S x S x 3 uint8)."""
        raise NotImplementedError

    def __call__(self, image) -> torch.Tensor:
        """One image (PIL or RGB array) -> uint8 C x S x S, drawn from torch's global generator."""
        out = np.empty((self.size, self.size, 3), np.uint8)
        self.apply(np.asarray(image), torch.rand(self.draws_per_image).tolist(), out)
        return torch.from_numpy(out).permute(2, 0, 1)


class RandomResizedCropFlip(CropTransform):
    """The paper's augmentation, random resized crop (scaling) + horizontal flip. The crop
    distribution is torchvision's RandomResizedCrop (area uniform in `scale`, log aspect ratio
    uniform in [3/4, 4/3], ten tries, then a centre crop), drawn from `draws_per_image` uniform
    numbers, so a seeded generator makes it reproducible. `scale` defaults to the official
    code's (0.5, 1), `TRAIN_CROP_SCALE`. The crop is resized with OpenCV on the
    uint8 array (area interpolation when shrinking, bilinear when enlarging) straight into its
    slot of the batch: about 4x cheaper per image than torchvision's tensor path, which is what
    lets the input pipeline keep up with JPEG decoding."""

    TRIES = 10
    draws_per_image = 4 * TRIES + 1

    def __init__(self, image_size: int, scale: tuple[float, float] = TRAIN_CROP_SCALE) -> None:
        self.size = image_size
        self.scale = scale

    def crop_box(self, height: int, width: int, draws: list[float]) -> tuple[int, int, int, int]:
        """(top, left, crop height, crop width) from 4 uniform draws per try."""
        area = height * width
        log_lo, log_hi = math.log(3 / 4), math.log(4 / 3)
        for t in range(self.TRIES):
            u_area, u_ratio, u_top, u_left = draws[4 * t : 4 * t + 4]
            target = area * (self.scale[0] + u_area * (self.scale[1] - self.scale[0]))
            ratio = math.exp(log_lo + u_ratio * (log_hi - log_lo))
            w = int(round(math.sqrt(target * ratio)))
            h = int(round(math.sqrt(target / ratio)))
            if 0 < w <= width and 0 < h <= height:
                return int(u_top * (height - h + 1)), int(u_left * (width - w + 1)), h, w
        ratio = width / height
        if ratio < 3 / 4:
            w, h = width, int(round(width / (3 / 4)))
        elif ratio > 4 / 3:
            h, w = height, int(round(height * (4 / 3)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def apply(self, pixels: np.ndarray, draws: list[float], out: np.ndarray) -> None:
        """Crop, resize and maybe flip RGB H x W x 3 `pixels` into `out` (S x S x 3 uint8)."""
        top, left, h, w = self.crop_box(pixels.shape[0], pixels.shape[1], draws)
        shrink = h >= self.size and w >= self.size
        cv2.resize(
            pixels[top : top + h, left : left + w],
            (self.size, self.size),
            dst=out,
            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
        )
        if draws[-1] < 0.5:
            cv2.flip(out, 1, dst=out)


def train_transform(image_size: int, scale: tuple[float, float] = TRAIN_CROP_SCALE) -> RandomResizedCropFlip:
    """Random resized crop (scaling, crop area a fraction `scale` of the image) + horizontal flip,
    as the paper trains; uint8 CHW out."""
    return RandomResizedCropFlip(image_size, scale)


class ResizeCenterCrop(CropTransform):
    """The eval crop: short side to image_size / 0.875, centre crop; uint8 out. OpenCV on the
    uint8 array, area interpolation when shrinking (as in training), bilinear when enlarging.
    No randomness. `ModelConfig.preprocess_recipe` says the same in numbers, for other code."""

    def __init__(self, image_size: int) -> None:
        self.size = image_size
        self.short = eval_resize_size(image_size)

    def apply(self, pixels: np.ndarray, draws: list[float], out: np.ndarray) -> None:
        """Resize and centre-crop RGB H x W x 3 `pixels` into `out` (S x S x 3 uint8)."""
        height, width = pixels.shape[:2]
        scale = self.short / min(height, width)
        new_w, new_h = max(self.size, round(width * scale)), max(self.size, round(height * scale))
        resized = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        top, left = (new_h - self.size) // 2, (new_w - self.size) // 2
        np.copyto(out, resized[top : top + self.size, left : left + self.size])


def eval_transform(image_size: int) -> ResizeCenterCrop:
    """Resize the short side to image_size / 0.875, centre crop; uint8 CHW out."""
    return ResizeCenterCrop(image_size)


class Normalization(Protocol):
    """What `normalize` needs of a model's config (`ModelConfig` has it): the data layer does
    not import the model."""

    @property
    def mean(self) -> Sequence[float]: ...

    @property
    def std(self) -> Sequence[float]: ...


def normalize(batch: torch.Tensor, config: Normalization) -> torch.Tensor:
    """uint8 NCHW on any device, in either memory layout -> float normalised with the model's mean/std.

    batch_norm's inference kernel computes (x - mean) / std in one pass: on the loader's
    channels_last batches plain broadcasting runs its inner loop over 3 channels, 3x slower on CPU."""
    mean = torch.tensor(config.mean, device=batch.device) * 255.0
    std = torch.tensor(config.std, device=batch.device) * 255.0
    return torch.nn.functional.batch_norm(batch.float(), mean, std * std, training=False, eps=0.0)
