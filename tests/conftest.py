"""Shared test fixtures: the real payloads in ../shared/fixtures, a headless Chromium page, and
builders for the inputs many stages share (tiny model dirs, flat JPEGs, posts.parquet)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = Path(os.environ.get("SMILEYNET_SHARED", REPO.parent / "shared")) / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """`../shared/fixtures` beside the repository: real third-party payloads that the repository
    does not ship. A plain clone has none, so their tests skip; under CI (`CI` set), where a copy
    is laid beside the clone, they are required."""
    if not SHARED_FIXTURES.is_dir():
        message = f"third-party fixtures not found at {SHARED_FIXTURES} (set SMILEYNET_SHARED to their folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_FIXTURES


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium_page():
    """A Playwright page in Debian's headless Chromium; `page.console_errors` collects errors.

    Playwright's own browser download is not reachable here, so the system Chromium is used."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/system-deps.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.console_errors = []
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture
def run_cli(capsys):
    """Run `smileynet ARGS...` in-process: returns (exit code, stdout, stderr)."""
    import sys
    from unittest import mock

    from smileynet.cli import main

    def run(*args) -> tuple[int, str, str]:
        with mock.patch.object(sys, "argv", ["smileynet", *map(str, args)]):
            try:
                main()
                code = 0
            except SystemExit as exit:
                code = exit.code or 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


# ---------------------------------------------------------------- builders
# Exposed as session fixtures that return the function: the rootdir conftest is not importable.


def _tiny_model(vocab: list[str], image_size: int = 32, seed: int = 0, head_scale: float = 20.0):
    """An untrained `tiny` model in eval mode; `head_scale` spreads its logits so that predictions
    differ between images instead of all sitting near 0.5."""
    import torch

    from smileynet.model import create_model

    torch.manual_seed(seed)
    model = create_model("tiny", num_classes=len(vocab), vocab=vocab, image_size=image_size).eval()
    with torch.no_grad():
        model.head.weight.mul_(head_scale)
    return model


def _tiny_model_dir(
    path: Path, vocab: list[str], image_size: int = 32, seed: int = 0, head_scale: float = 20.0
) -> Path:
    """`_tiny_model` saved as a model dir at `path`."""
    from smileynet.model import save

    return save(_tiny_model(vocab, image_size=image_size, seed=seed, head_scale=head_scale), path)


def _jpeg_bytes(value: int, size: int = 16) -> bytes:
    """A `size`x`size` JPEG of one grey level."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), (value, value, value)).save(out, format="JPEG")
    return out.getvalue()


def _write_posts(path: Path, posts: list[dict[str, Any]]) -> Path:
    """posts.parquet in collect's schema; each post gives at least post_id, created_at, emojis and
    image_urls, and the other columns default to a plain English post with no alt texts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from smileynet.contracts import posts_schema

    defaults = {"source": "twitter-v1", "author_id": "1", "lang": "en", "sensitive": False}
    rows = [
        {"text": "".join(post["emojis"]), "alt_texts": [""] * len(post["image_urls"]), **defaults, **post}
        for post in posts
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=posts_schema()), path)
    return path


@pytest.fixture(scope="session")
def tiny_model():
    """`tiny_model(vocab, image_size=32, seed=0, head_scale=20.0)`: an untrained tiny model."""
    return _tiny_model


@pytest.fixture(scope="session")
def make_tiny_model_dir():
    """`make_tiny_model_dir(path, vocab, image_size=32, seed=0, head_scale=20.0)`: a saved tiny model."""
    return _tiny_model_dir


@pytest.fixture(scope="session")
def jpeg_bytes():
    """`jpeg_bytes(value, size=16)`: a flat grey JPEG."""
    return _jpeg_bytes


@pytest.fixture(scope="session")
def write_posts():
    """`write_posts(path, posts)`: posts.parquet in collect's schema from a list of dicts."""
    return _write_posts
