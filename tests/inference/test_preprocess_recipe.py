"""The eval recipe in config.json, implemented here from its description alone (PIL + numpy), gives
the CLI's top-5 exactly; `model.preprocess` and the ONNX metadata carry the same recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import smileynet
from smileynet.model import create_model, save
from smileynet.vocab import default_vocabulary


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """n_out x n_in: each output pixel is the mean of the input span it covers (area interpolation)."""
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        start, end = i * scale, (i + 1) * scale
        for j in range(int(np.floor(start)), min(n_in, int(np.ceil(end)))):
            weights[i, j] = min(end, j + 1) - max(start, j)
    return weights / scale


def bilinear_weights(n_in: int, n_out: int) -> np.ndarray:
    """n_out x n_in: linear interpolation between pixel centres, clamped at the borders."""
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        x = min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)
        left = int(np.floor(x))
        right = min(left + 1, n_in - 1)
        weights[i, left] += 1 - (x - left)
        weights[i, right] += x - left
    return weights


def reference_input(path, recipe: dict) -> np.ndarray:
    """README: short side to resize_size (area when shrinking, bilinear when enlarging), 8-bit,
    centre crop input_size, /255, minus mean, over std, CHW."""
    pixels = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), dtype=np.float64)
    height, width = pixels.shape[:2]
    size, short = recipe["input_size"], recipe["resize_size"]
    scale = short / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    weights = area_weights if scale < 1 else bilinear_weights
    rows = np.einsum("ih,hwc->iwc", weights(height, new_h), pixels)  # height first, then width
    resized = np.einsum("iwc,jw->ijc", rows, weights(width, new_w))
    resized = np.clip(np.rint(resized), 0, 255)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    crop = resized[top : top + size, left : left + size] / 255.0
    normalised = (crop - np.array(recipe["mean"])) / np.array(recipe["std"])
    return normalised.transpose(2, 0, 1).astype(np.float32)


def picture(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    """Smooth gradients plus a few blocks and noise: structure at several scales."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * x + rng.uniform(0, 6)), np.cos(5 * y + rng.uniform(0, 6)), x * y], -1)
    pixels = (base - base.min()) / (np.ptp(base) + 1e-9) * 200 + rng.normal(0, 12, (height, width, 3))
    for _ in range(3):
        top, left = rng.integers(0, height), rng.integers(0, width)
        pixels[top : top + height // 4, left : left + width // 4] = rng.uniform(0, 255, 3)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(3)
    folder = tmp_path_factory.mktemp("recipe") / "model"
    emojis = list(default_vocabulary().emojis)[
        :24
    ]  # fewer outputs than 92: wider gaps between the ranks of an untrained model
    save(create_model("tiny", len(emojis), vocab=emojis, image_size=48), folder)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """20 pictures, shrunk and enlarged, portrait and landscape, PNG and (a few) JPEG."""
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(11)
    sizes = [(30, 40), (41, 33), (55, 55), (60, 90), (97, 64), (120, 80), (200, 151), (49, 300), (256, 190), (35, 35)]
    paths = []
    for n in range(20):
        height, width = sizes[n % len(sizes)]
        path = folder / f"p{n:02d}.{'jpg' if n % 5 == 4 else 'png'}"
        picture(rng, height + n, width + 2 * n).save(path, quality=95)
        paths.append(path)
    return paths


def test_config_json_holds_the_full_eval_recipe(model_dir):
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    assert config["preprocess"] == {
        "input_size": 48,
        "resize": "short_side",
        "resize_size": 55,
        "crop": "center",
        "interpolation_shrink": "area",
        "interpolation_enlarge": "bilinear",
        "scale": 1 / 255,
        "mean": config["mean"],
        "std": config["std"],
        "channels": "RGB",
        "layout": "NCHW",
    }


def test_the_documented_recipe_gives_the_cli_top5_exactly(run_cli, model_dir, images):
    recipe = json.loads((model_dir / "config.json").read_text("utf-8"))["preprocess"]
    code, out, err = run_cli("predict", model_dir, *images, "--json", "--top-k", "5", "--quiet")
    assert code == 0, err
    cli = {row["path"]: [e["emoji"] for e in row["top"]] for row in map(json.loads, out.splitlines())}

    model = smileynet.load(model_dir)
    x = torch.from_numpy(np.stack([reference_input(path, recipe) for path in images]))
    with torch.no_grad():
        probs = torch.sigmoid(model(x)).numpy()
    ours = {
        str(path): [model.vocab[j] for j in np.argsort(-row, kind="stable")[:5]] for path, row in zip(images, probs)
    }
    assert len(cli) == 20 and ours == cli


def test_model_preprocess_matches_the_recipe_to_one_grey_level(model_dir, images):
    model = smileynet.load(model_dir)
    recipe = model.config.preprocess_recipe()
    for path in images[:6]:
        expected = torch.from_numpy(reference_input(path, recipe))
        for source in (Image.open(path), np.asarray(Image.open(path).convert("RGB")), path):
            x = model.preprocess(source)
            assert x.shape == (1, 3, 48, 48) and x.dtype == torch.float32
            step = 1.0 / 255 / min(recipe["std"])
            assert float((x[0] - expected).abs().max()) <= step + 1e-5
    batch = model.preprocess([Image.open(p) for p in images[:3]])
    assert batch.shape == (3, 3, 48, 48)


def test_onnx_metadata_carries_the_same_recipe(model_dir, tmp_path):
    onnx = pytest.importorskip("onnx")
    from smileynet.inference.torch_runtime import export_onnx

    path = tmp_path / "m.onnx"
    export_onnx(smileynet.load(model_dir), path)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    recipe = json.loads((model_dir / "config.json").read_text("utf-8"))["preprocess"]
    assert json.loads(meta["smileynet_preprocess"]) == recipe
    assert json.loads(meta["smileynet_config"])["preprocess"] == recipe
