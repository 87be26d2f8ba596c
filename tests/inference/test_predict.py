"""`smileynet predict`: a readable table with emoji glyphs and names, or JSON lines; bad files on stderr."""

import json

import numpy as np
import pytest
from PIL import Image

import smileynet
from smileynet.model import save

VOCAB = ["😂", "😍", "😭", "☹", "👻", "💀", "😴"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, make_tiny_model_dir):
    return make_tiny_model_dir(
        tmp_path_factory.mktemp("predict") / "model", VOCAB, image_size=32, seed=3, head_scale=20
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("pics")
    (root / "nested").mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.png", "nested/c.webp"):
        Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(root / name)
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not an image, and not looked at")
    return root


def test_json_lines_match_the_api(model_dir, images, run_cli):
    code, out, err = run_cli("predict", model_dir, images, "--json", "--top-k", "3")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["path"] for line in lines] == [str(images / n) for n in ("a.jpg", "b.png", "nested/c.webp")]
    assert "skipped" in err and "empty.jpg" in err and "empty file" in err and "notes.txt" not in err
    model = smileynet.load(model_dir)
    expected = smileynet.predict(model, [images / "a.jpg", images / "b.png", images / "nested" / "c.webp"], top_k=3)
    for line, top in zip(lines, expected):
        assert [e["emoji"] for e in line["top"]] == [e["emoji"] for e in top]
        assert [e["probability"] for e in line["top"]] == pytest.approx([e["probability"] for e in top], abs=1e-6)
        assert set(line["top"][0]) == {"emoji", "name", "probability"}


def test_table_shows_glyphs_names_and_probabilities(model_dir, images, run_cli):
    code, out, _ = run_cli("predict", model_dir, images / "a.jpg", images / "b.png", "--top-k", "7")
    assert code == 0
    assert "a.jpg" in out and "b.png" in out
    assert "☹\ufe0f" in out and "frowning face" in out and "ghost" in out  # display form of the glyph
    top = smileynet.predict(smileynet.load(model_dir), images / "a.jpg", top_k=1)[0][0]
    assert f"{top['probability']:.3f}" in out


def test_bad_input_is_a_one_line_error(model_dir, images, tmp_path, run_cli):
    (tmp_path / "zero.jpg").write_bytes(b"")
    for args in (
        [model_dir, tmp_path / "missing.jpg"],
        [model_dir, tmp_path / "zero.jpg"],
        [tmp_path, images / "a.jpg"],
        [model_dir, images / "a.jpg", "--top-k", "0"],
    ):
        code, _, err = run_cli("predict", *args)
        assert code == 1 and err.strip().splitlines()[-1].startswith("smileynet: error:"), err


def test_a_demo_model_says_what_it_has_seen(model_dir, images, tmp_path, run_cli):
    code, _, err = run_cli("predict", model_dir, images / "a.jpg", "--json", "--quiet")
    assert code == 0 and "demo" not in err
    model = smileynet.load(model_dir)
    model.config.demo = True
    demo = save(model, tmp_path / "demo")
    code, out, err = run_cli("predict", demo, images / "a.jpg", "--json", "--quiet")
    assert code == 0 and json.loads(out)["path"] == str(images / "a.jpg")  # stdout stays JSON
    assert err.count("\n") == 1 and "a demo model" in err and "only seen the demo's generated glyph pictures" in err
