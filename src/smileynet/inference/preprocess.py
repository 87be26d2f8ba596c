"""The eval recipe (`ModelConfig.preprocess_recipe`, an ONNX file's `smileynet_preprocess`) in numpy.

The light install (no torch, no OpenCV) crops with `RecipeCrop`: the short side resized to
`resize_size` by exact area averaging when shrinking and bilinear interpolation between pixel
centres when enlarging, then the centre `input_size` square, uint8 channels first. That is what
OpenCV's INTER_AREA / INTER_LINEAR compute (to one grey level), so a model gives the same top
emojis in either install. Only the pixels of the crop are computed: each output pixel reads its
few source taps, so time and memory follow the crop and the source rows it covers, whatever the
image's size.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from smileynet.errors import UserError

RECIPE_FORM = {
    "resize": "short_side",
    "crop": "center",
    "interpolation_shrink": "area",
    "interpolation_enlarge": "bilinear",
    "channels": "RGB",
    "layout": "NCHW",
}


@dataclass(frozen=True)
class Recipe:
    """The numbers of an eval recipe; its form (short side, centre crop, area/bilinear, RGB, NCHW) is fixed."""

    input_size: int
    resize_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Recipe:
        """A recipe from outside (an ONNX file's metadata), checked: a form this code does not
        implement or an absurd size is one UserError naming `where`."""
        if not isinstance(data, dict):
            raise UserError(f"{where}: the preprocess recipe must be a JSON object")
        for key, value in RECIPE_FORM.items():
            if data.get(key) != value:
                raise UserError(
                    f"{where}: preprocess {key} {str(data.get(key))[:30]!r} is not supported (only {value!r})"
                )
        scale = data.get("scale")
        if not isinstance(scale, (int, float)) or not math.isclose(scale, 1 / 255):
            raise UserError(f"{where}: preprocess scale must be 1/255")
        size, short = data.get("input_size"), data.get("resize_size")
        if not _is_int(size) or not _is_int(short) or not 8 <= size <= 1024 or not size <= short <= 4 * size:
            raise UserError(f"{where}: preprocess sizes must satisfy 8 <= input_size <= resize_size <= 4 x input_size")
        return cls(size, short, _triple(data.get("mean"), where, "mean"), _triple(data.get("std"), where, "std"))


class RecipeCrop:
    """RGB H x W x 3 uint8 -> the recipe's crop, uint8 3 x S x S (the exported graph's input)."""

    def __init__(self, recipe: Recipe) -> None:
        self.size = recipe.input_size
        self.short = recipe.resize_size

    def __call__(self, pixels: Any) -> np.ndarray:
        pixels = np.asarray(pixels)
        height, width = pixels.shape[:2]
        scale = self.short / min(height, width)
        new_h, new_w = max(self.size, round(height * scale)), max(self.size, round(width * scale))
        shrink = scale < 1
        top, left = (new_h - self.size) // 2, (new_w - self.size) // 2
        rows, row_weights = taps(height, new_h, top, self.size, shrink)
        cols, col_weights = taps(width, new_w, left, self.size, shrink)
        first, last = int(cols.min()), int(cols.max()) + 1  # only the source columns the crop reads
        source = pixels[:, first:last]
        tall = np.zeros((self.size, last - first, 3), np.float64)
        for k in range(rows.shape[1]):
            tall += row_weights[:, k, None, None] * source[rows[:, k]]
        out = np.zeros((self.size, self.size, 3), np.float64)
        for k in range(cols.shape[1]):
            out += col_weights[None, :, k, None] * tall[:, cols[:, k] - first]
        return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8).transpose(2, 0, 1))


def taps(n_in: int, n_out: int, first: int, count: int, shrink: bool) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights (count x K each) of output pixels `first`..`first+count` of a
    resize from `n_in` to `n_out` pixels: area averaging when `shrink`, else bilinear between
    pixel centres, clamped at the borders. Unused taps have weight 0."""
    scale = n_in / n_out
    out = np.arange(first, first + count, dtype=np.float64)
    if shrink:
        start, end = out * scale, (out + 1) * scale
        index = np.floor(start).astype(np.int64)[:, None] + np.arange(math.ceil(scale) + 1)
        weights = np.clip(np.minimum(end[:, None], index + 1) - np.maximum(start[:, None], index), 0, None) / scale
        return np.minimum(index, n_in - 1), weights
    x = np.clip((out + 0.5) * scale - 0.5, 0, n_in - 1)
    left = np.floor(x).astype(np.int64)
    frac = x - left
    return np.stack([left, np.minimum(left + 1, n_in - 1)], 1), np.stack([1 - frac, frac], 1)


def eval_crop(recipe: Recipe) -> Callable[[Any], Any]:
    """The crop extraction uses: OpenCV's (the one training used) where torch and OpenCV are
    installed and the recipe is the standard one, else `RecipeCrop`."""
    from smileynet.contracts import eval_resize_size

    standard = recipe.resize_size == eval_resize_size(recipe.input_size)
    if standard and all(importlib.util.find_spec(name) is not None for name in ("torch", "cv2")):
        from smileynet.data.transforms import eval_transform

        return eval_transform(recipe.input_size)
    return RecipeCrop(recipe)


def normalized(batch: np.ndarray, recipe: Recipe) -> np.ndarray:
    """uint8 N x 3 x S x S -> float32, scaled and normalised by the recipe (what the graph does inside)."""
    mean = np.asarray(recipe.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(recipe.std, np.float32).reshape(1, 3, 1, 1)
    return ((batch.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _triple(value: object, where: str, key: str) -> tuple[float, float, float]:
    if not (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        raise UserError(f"{where}: preprocess {key} must be 3 numbers")
    if key == "std" and min(value) <= 0:
        raise UserError(f"{where}: preprocess std must be positive")
    return (float(value[0]), float(value[1]), float(value[2]))
