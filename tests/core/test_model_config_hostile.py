"""A model dir from outside: config.json is checked field by field before a tensor exists; an
arch is built only from what this install has (never a model hub); every bad value is one
UserError naming the file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smileynet
from smileynet.errors import UserError
from smileynet.model import create_model, save

VOCAB = ["😂", "😍", "😭"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m"
    save(create_model("tiny", num_classes=3, vocab=VOCAB, image_size=32), path)
    return path


def edited(model_dir: Path, tmp_path: Path, **changes) -> Path:
    """A copy of the model dir whose config.json has `changes` (None removes a key)."""
    out = tmp_path / "edited"
    out.mkdir(exist_ok=True)
    config = json.loads((model_dir / "config.json").read_text("utf-8"))
    config.update(changes)
    config = {k: v for k, v in config.items() if v is not None}
    (out / "config.json").write_text(json.dumps(config, ensure_ascii=False), "utf-8")
    (out / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    return out


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test (and is recorded, in case a library swallows it)."""
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise AssertionError(f"network use: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: refuse(None, a))
    yield attempts
    assert attempts == []


@pytest.mark.parametrize(
    "arch",
    [
        "timm/hf-hub:evil/evil-model",
        "timm/local-dir:/tmp/x",
        "hf-hub:evil/evil-model",
        "timm/resnet18/../x",
        "resnet50\n",
        50,
        "",
    ],
)
def test_an_arch_from_a_model_hub_is_refused_without_any_network(model_dir, tmp_path, no_network, arch):
    with pytest.raises(UserError) as err:
        smileynet.load(edited(model_dir, tmp_path, arch=arch))
    assert str(tmp_path / "edited" / "config.json") in str(err.value) and "\n" not in str(err.value)


def test_a_huge_num_classes_is_refused_before_any_allocation(model_dir, tmp_path):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UserError, match="num_classes must be an integer from 1 to 10000, got 10000000"):
        smileynet.load(edited(model_dir, tmp_path, num_classes=10**7, vocab=None))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 << 10  # KiB: no 5 GB head


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"num_classes": -3}, "num_classes must be an integer"),
        ({"num_classes": "3"}, "num_classes must be an integer"),
        ({"num_classes": 10**12}, "num_classes must be an integer"),
        ({"num_classes": True}, "num_classes must be an integer"),
        ({"image_size": 10**6}, "image_size must be an integer from 8 to 1024"),
        ({"image_size": -32}, "image_size must be an integer"),
        ({"image_size": 32.0}, "image_size must be an integer"),
        ({"mean": [0.5, 0.5]}, "mean must be 3 numbers"),
        ({"mean": ["a", 0, 0]}, "mean must be 3 numbers"),
        ({"vocab": "😂😍😭"}, "vocab must be a list"),
        ({"vocab": ["😂", "😂", "😭"]}, "vocab lists an emoji twice"),
        ({"version": None}, "lacks version"),
        ({"arch": None}, "lacks arch"),
    ],
)
def test_bad_field_types_and_ranges_are_one_line(model_dir, tmp_path, changes, message):
    with pytest.raises(UserError, match=message):
        smileynet.load(edited(model_dir, tmp_path, **changes))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"std": [0, 0, 0]}, "std must be 3 numbers from 0.001"),
        ({"vocab": ["😂"] * 1 + ["😍"]}, "vocab lists 2 emojis for 3 outputs"),
        ({"version": 99}, "format version 99; this smileynet reads version 1"),
        ({"version": "1"}, "format version '1'"),
    ],
)
def test_values_that_would_give_silently_wrong_results_are_refused(model_dir, tmp_path, changes, message):
    with pytest.raises(UserError, match=message):
        smileynet.load(edited(model_dir, tmp_path, **changes))


def test_a_non_utf8_or_non_object_config_is_one_line_from_the_cli(model_dir, tmp_path):
    bad = edited(model_dir, tmp_path)
    (bad / "config.json").write_bytes(b'{"arch": "tiny\xff"}')
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(image)
    done = subprocess.run(
        [sys.executable, "-m", "smileynet", "predict", str(bad), str(image)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"smileynet: error: {bad / 'config.json'}: not UTF-8 text (byte 14)"]
    (bad / "config.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="expected a JSON object, got list"):
        smileynet.load(bad)
    (bad / "config.json").write_text("[" * 100_000)
    with pytest.raises(UserError, match="invalid JSON"):
        smileynet.load(bad)
    (bad / "config.json").write_text("{" + " " * (1 << 20) + "}")
    with pytest.raises(UserError, match="larger than 1024 KiB"):
        smileynet.load(bad)


def test_a_valid_dir_still_loads(model_dir):
    model = smileynet.load(model_dir)
    assert model.vocab == VOCAB and model.config.image_size == 32


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from(["arch", "num_classes", "vocab", "image_size", "mean", "std", "version", "extra"])


@settings(max_examples=150, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(KEYS, JSON, max_size=4))
def test_any_config_gives_a_model_config_or_user_error(changes):
    from smileynet.model.config import ModelConfig

    base = {
        "arch": "tiny",
        "num_classes": 3,
        "vocab": VOCAB,
        "image_size": 32,
        "mean": [0.5] * 3,
        "std": [0.25] * 3,
        "version": 1,
    }
    try:
        config = ModelConfig.from_dict({**base, **changes})
    except UserError as err:
        assert "\n" not in str(err)
        return
    assert 1 <= config.num_classes <= 10_000 and 8 <= config.image_size <= 1024
    assert all(s >= 1e-3 for s in config.std) and (not config.vocab or len(config.vocab) == config.num_classes)


def test_the_demo_marker_is_one_optional_bool(model_dir, tmp_path):
    assert "demo" not in json.loads((model_dir / "config.json").read_text("utf-8"))
    assert smileynet.load(model_dir).config.demo is False
    assert smileynet.load(edited(model_dir, tmp_path, demo=True)).config.demo is True
    model = smileynet.load(model_dir)
    model.config.demo = True
    saved = save(model, tmp_path / "demo")
    assert json.loads((saved / "config.json").read_text("utf-8"))["demo"] is True
    for bad in ("yes", 1, [True]):
        with pytest.raises(UserError, match="demo must be true or false"):
            smileynet.load(edited(model_dir, tmp_path, demo=bad))
