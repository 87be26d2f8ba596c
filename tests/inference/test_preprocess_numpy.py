"""The light install's crop (`RecipeCrop`, numpy) against OpenCV's eval crop that training uses,
and the recipe parser against anything an ONNX file's metadata may hold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smileynet.data.transforms import eval_transform
from smileynet.errors import UserError
from smileynet.inference.preprocess import Recipe, RecipeCrop, taps
from smileynet.model.config import ModelConfig


def recipe(size: int) -> Recipe:
    return Recipe.from_dict(ModelConfig("tiny", 3, image_size=size).preprocess_recipe(), "test")


@pytest.mark.parametrize(
    "height, width, size",
    [
        (30, 40, 48),
        (55, 55, 48),
        (97, 64, 48),
        (300, 49, 48),
        (480, 640, 224),
        (200, 151, 32),
        (64, 64, 56),
        (1, 50, 8),
    ],
)
def test_the_numpy_crop_is_opencvs_to_one_grey_level(height, width, size):
    rng = np.random.default_rng(height * width)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    smooth = np.stack([np.sin(9 * x), np.cos(7 * y), x * y], -1) * 110 + 120
    pixels = np.clip(smooth + rng.normal(0, 20, (height, width, 3)), 0, 255).astype(np.uint8)
    ours = RecipeCrop(recipe(size))(pixels)
    theirs = eval_transform(size)(pixels).numpy()
    assert ours.shape == theirs.shape == (3, size, size) and ours.dtype == np.uint8
    assert int(np.abs(ours.astype(int) - theirs.astype(int)).max()) <= 1


def test_area_taps_cover_each_output_pixel_exactly():
    index, weights = taps(1000, 37, 0, 37, shrink=True)
    assert np.allclose(weights.sum(1), 1.0) and index.max() < 1000
    index, weights = taps(10, 37, 5, 20, shrink=False)
    assert np.allclose(weights.sum(1), 1.0) and index.max() < 10 and weights.shape == (20, 2)


FORM = ModelConfig("tiny", 3, image_size=32).preprocess_recipe()
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5000),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-2, 2), st.text(max_size=2)), max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(FORM)), VALUES, max_size=5))
def test_any_recipe_gives_a_recipe_or_one_line_error(changes):
    try:
        parsed = Recipe.from_dict({**FORM, **changes}, "ONNX model metadata")
    except UserError as err:
        assert "\n" not in str(err) and str(err).startswith("ONNX model metadata: ")
        return
    assert 8 <= parsed.input_size <= parsed.resize_size <= 4 * parsed.input_size <= 4096
    assert all(np.isfinite(parsed.mean)) and min(parsed.std) > 0
