"""`smileynet serve` over real HTTP with the clients people use (urllib.request, requests):
refusals that reach them, field names, several files, and the offline API docs."""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
import uuid

import numpy as np
import pytest
import requests
import torch
from loadtest import background_server
from PIL import Image

from smileynet.model import create_model
from smileynet.serve.app import create_app
from smileynet.serve.predictor import Predictor
from smileynet.vocab import default_vocabulary

LIMIT_MB = 0.05


def encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def photo(seed: int, size: int = 40) -> bytes:
    rng = np.random.default_rng(seed)
    return encode(rng.integers(0, 256, (size, size + 5, 3), dtype=np.uint8), "JPEG")


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body by hand, so that urllib.request can send it."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def urllib_post(url: str, parts) -> tuple[int, dict]:
    body, content_type = multipart(parts)
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def server():
    torch.manual_seed(0)
    model = create_model("tiny", 92, vocab=list(default_vocabulary().emojis), image_size=32).eval()
    with background_server(create_app(Predictor(model), max_upload_mb=LIMIT_MB)) as url:
        yield url


@pytest.fixture(scope="module")
def too_large() -> bytes:
    """8 MB: more than the kernel's socket buffers take in, so a server that answers without
    reading the rest resets the connection of a client still sending."""
    return np.random.default_rng(1).bytes(8_000_000)


def test_413_reaches_urllib_which_sends_the_whole_body_before_reading(server, too_large):
    for _ in range(3):  # a reset would show up as URLError / ConnectionResetError here
        status, answer = urllib_post(server + "/v1/predict", [("file", "big.png", too_large)])
        assert status == 413 and "limit" in answer["detail"]
    assert urllib_post(server + "/v1/predict", [("file", "a.jpg", photo(0))])[0] == 200  # still serving


def test_413_reaches_requests_with_and_without_a_content_length(server, too_large):
    response = requests.post(server + "/v1/predict", files={"file": ("big.png", too_large, "image/png")}, timeout=60)
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    body, content_type = multipart([("file", "big.png", too_large)])
    chunked = requests.post(
        server + "/v1/predict",
        data=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]),
        headers={"Content-Type": content_type},
        timeout=60,
    )
    assert chunked.status_code == 413


@pytest.mark.parametrize("client", ["urllib", "requests"])
def test_a_wrong_field_name_is_400_naming_the_expected_field(server, client):
    image = photo(2)
    if client == "urllib":
        status, answer = urllib_post(server + "/v1/predict", [("image", "x.jpg", image)])
    else:
        response = requests.post(server + "/v1/predict", files={"image": ("x.jpg", image, "image/jpeg")}, timeout=60)
        status, answer = response.status_code, response.json()
    assert status == 400
    assert "'file'" in answer["detail"] and "'image'" in answer["detail"]


def test_several_files_give_one_result_per_file_in_order(server):
    images = [photo(seed) for seed in (3, 4, 5)]
    single = [
        requests.post(server + "/v1/predict", files={"file": ("a.jpg", image)}, timeout=60).json() for image in images
    ]
    files = [("file", (f"{n}.jpg", image, "image/jpeg")) for n, image in enumerate(images)]
    batch = requests.post(server + "/v1/predict/batch", files=files, timeout=60)
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert [r["filename"] for r in results] == ["0.jpg", "1.jpg", "2.jpg"]
    assert [[t["index"] for t in r["top"]] for r in results] == [[t["index"] for t in s["top"]] for s in single]
    status, answer = urllib_post(
        server + "/v1/predict/batch", [("file", f"{n}.jpg", image) for n, image in enumerate(images)]
    )
    assert status == 200 and len(answer["results"]) == 3


def test_several_files_on_the_single_image_route_is_a_clear_400(server):
    status, answer = urllib_post(server + "/v1/predict", [("file", "a.jpg", photo(6)), ("file", "b.jpg", photo(7))])
    assert status == 400 and "/v1/predict/batch" in answer["detail"]


def test_swagger_ui_and_redoc_come_from_this_server(server):
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = requests.get(server + page, timeout=60)
        assert html.status_code == 200 and script in html.text
        assert not re.search(r"https?://|(src|href)=\"//", html.text), page  # nothing from a CDN
        sources = re.findall(r'(?:src|href)="(/[^"]+)"', html.text)
        for source in sources:
            asset = requests.get(server + source, timeout=60)
            assert asset.status_code == 200 and len(asset.content) > 100, source


@pytest.mark.browser
def test_swagger_ui_tries_an_upload(chromium_page, server, tmp_path):
    page = chromium_page
    picture = tmp_path / "photo.jpg"
    picture.write_bytes(photo(8))
    page.goto(server + "/docs")
    operation = page.locator("#operations-default-predict_v1_predict_post")
    operation.locator(".opblock-summary").click()
    operation.locator("input[type=file]").set_input_files(str(picture))
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip() == "200"
    assert '"top"' in operation.locator(".live-responses-table .microlight").first.inner_text()
    assert page.console_errors == []


@pytest.mark.browser
def test_redoc_renders_without_reaching_outside(chromium_page, server):
    page = chromium_page
    page.goto(server + "/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "SmileyNet" in page.inner_text("h1")
    # ReDoc's footer logo points at its CDN: the page's CSP refuses it, and nothing else fails
    assert [e for e in page.console_errors if "violates the following Content Security Policy" not in e] == []
