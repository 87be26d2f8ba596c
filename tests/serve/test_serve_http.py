"""`smileynet serve` over real HTTP on 127.0.0.1: a bounded load test and the page in headless Chromium."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
import torch
from loadtest import background_server, free_port, make_requests, run_load
from PIL import Image

from smileynet.model import create_model, save
from smileynet.model.config import DEMO_NOTE
from smileynet.model.model_dir import mark_demo
from smileynet.serve.app import create_app
from smileynet.serve.predictor import Predictor


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("tiny", 92, image_size=32).eval()


def test_load_no_5xx_and_requests_share_forward_passes(model):
    app = create_app(Predictor(model), max_wait_ms=20)
    requests = make_requests(60, malformed=0.1, seed=1, size=48)
    with background_server(app) as url:
        result = run_load(url, requests, concurrency=8)
    good = sum(r.kind in ("jpeg", "png_json") for r in requests)
    assert result["errors"] == [] and result["server_errors"] == 0
    assert result["statuses"] == {200: good, 400: len(requests) - good}
    batcher = app.state.batcher
    assert batcher.images == good and batcher.batches < good


def wait_for_images(page, timeout: float = 20.0) -> None:
    """Until every image has loaded (the glyphs), so none is cut off by the server stopping.
    A Python loop: Playwright's wait_for_function evaluates strings, which the page's CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate("[...document.images].every((img) => img.complete)"):
        assert time.monotonic() < deadline, "images did not load"
        time.sleep(0.05)


@pytest.mark.browser
def test_page_uploads_an_image_and_shows_emojis(chromium_page, model, tmp_path):
    page = chromium_page
    picture = tmp_path / "beach.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(picture)
    (tmp_path / "notes.txt").write_text("not a picture")
    fingerprints = tmp_path / "emoji_fingerprints.csv"
    fingerprints.write_text(
        "emoji,name,amusement,fear\n😀,grinning face,0.8,0.1\n😱,face screaming in fear,0.1,0.9\n", encoding="utf-8"
    )

    with background_server(create_app(Predictor(model))) as url:
        page.goto(url + "/")
        page.wait_for_selector("#model-info:has-text('tiny')")
        for _ in range(6):  # the file picker is reachable with the keyboard
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "file":
                break
        assert page.evaluate("document.activeElement.id") == "file"
        page.set_input_files("#file", str(picture))
        page.wait_for_selector("#top li", timeout=20_000)
        assert page.locator("#top li").count() == 5
        names = page.locator("#top .glyph, #top .glyph-name")
        assert names.count() == 5
        assert page.locator("#sentiment dt").all_inner_texts() == ["binary", "continuous"]
        assert "No emoji fingerprints loaded" in page.inner_text("#fingerprint-note")
        assert page.locator("#groups .group h3").first.inner_text() == "face-smiling"
        assert "Top emoji" in page.inner_text("#status")
        wait_for_images(page)

        page.evaluate("""async () => {  // drag and drop: a 20 x 10 PNG dropped on the zone
            const canvas = Object.assign(document.createElement("canvas"), {width: 20, height: 10});
            const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
            const data = new DataTransfer();
            data.items.add(new File([blob], "dropped.png", {type: "image/png"}));
            document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }""")
        page.wait_for_selector("#status:has-text('dropped.png, 20×10 pixels')")

        page.set_input_files("#file", str(tmp_path / "notes.txt"))
        page.wait_for_selector("#status.error")
        assert "not an image" in page.inner_text("#status")

    demo_dir = save(model, tmp_path / "demo")
    mark_demo(demo_dir)  # as `smileynet demo` marks its models
    with background_server(create_app(Predictor.from_dir(demo_dir, fingerprints=fingerprints))) as url:
        page.goto(url + "/")
        page.wait_for_selector("#model-info:has-text('tiny')")
        assert DEMO_NOTE in page.inner_text("#model-info")
        page.set_input_files("#file", str(picture))
        page.wait_for_selector("#fingerprint li", timeout=20_000)
        assert page.locator("#fingerprint .name").all_inner_texts() == ["amusement", "fear"]
        assert page.locator("#groups .group").count() == 0
        wait_for_images(page)
    errors = [e for e in page.console_errors if "status of 400" not in e]  # the refused upload logs its 400
    assert errors == []


@pytest.mark.e2e
def test_cli_serves_until_stopped(model, tmp_path):
    """The real command: starts, answers, enforces --max-upload-mb over HTTP, stops on SIGTERM."""
    model_dir = save(model, tmp_path / "model")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smileynet",
            "serve",
            str(model_dir),
            "--port",
            str(port),
            "--max-upload-mb",
            "1",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stdout.read().decode()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        picture = io.BytesIO()
        Image.new("RGB", (30, 20), (200, 30, 30)).save(picture, format="PNG")
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/predict", files={"file": ("r.png", picture.getvalue())}).json()
        assert len(answer["top"]) == 5 and answer["image"] == {"width": 30, "height": 20}
        too_big = httpx.post(f"http://127.0.0.1:{port}/v1/predict", files={"file": ("b.bin", b"\0" * 1_100_000)})
        assert too_big.status_code == 413
    finally:
        server.terminate()
        server.wait(30)
