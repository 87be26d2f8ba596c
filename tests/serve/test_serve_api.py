"""`smileynet serve`'s REST API in-process: answers, limits with real bytes, and the micro-batcher."""

from __future__ import annotations

import asyncio
import base64
import io
import random
import re
import struct
import subprocess
import sys
import zlib

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from smileynet.errors import UserError
from smileynet.lexicon import lookup
from smileynet.model import create_model, save
from smileynet.serve.app import create_app
from smileynet.serve.batcher import MicroBatcher
from smileynet.serve.predictor import Predictor
from smileynet.vocab import default_vocabulary

LIMIT_MB = 0.05  # 50 kB: a small real image passes, a noisy 200 x 200 PNG does not


def encode(pixels: np.ndarray, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds one tiny IDAT: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("tiny", 92, image_size=32).eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, model):
    return save(model, tmp_path_factory.mktemp("serve") / "model")


@pytest.fixture(scope="module")
def client(model_dir):
    app = create_app(Predictor.from_dir(model_dir), max_upload_mb=LIMIT_MB)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def photo() -> bytes:
    rng = np.random.default_rng(0)
    pixels = np.clip(rng.normal(120, 40, (48, 64, 3)), 0, 255).astype(np.uint8)
    return encode(pixels)


def biased_model(winner: str):
    """A tiny model whose output for any image is ~1 for `winner` and ~0 for every other emoji."""
    net = create_model("tiny", 92, image_size=32).eval()
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.fill_(-30.0)
        net.head.bias[default_vocabulary().index(winner)] = 30.0
    return net


def test_predict_multipart_matches_the_model(client, model_dir, photo):
    response = client.post("/v1/predict?top_k=3", files={"file": ("holiday.jpg", photo, "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    predictor = Predictor.from_dir(model_dir)
    tensor, size = predictor.preprocess(photo)
    probs = torch.sigmoid(torch.from_numpy(predictor.forward(tensor[None])[0])).numpy()
    expected = np.argsort(-probs, kind="stable")[:3]
    assert [e["index"] for e in body["top"]] == expected.tolist()
    assert [e["probability"] for e in body["top"]] == pytest.approx(probs[expected].tolist(), abs=1e-5)
    vocab = default_vocabulary()
    assert [e["name"] for e in body["top"]] == [vocab.names[i] for i in expected]
    assert body["image"] == {"width": 64, "height": 48}
    assert "embedding" not in body and set(body["sentiment"]) == {"binary", "continuous"}


def test_predict_json_base64_gives_the_same_answer_and_the_embedding(client, photo):
    multipart = client.post("/v1/predict", files={"file": ("a.jpg", photo, "image/jpeg")}, data={"top_k": "4"}).json()
    encoded = base64.b64encode(photo).decode()
    for payload in ({"image_base64": encoded}, {"image_base64": "data:image/jpeg;base64," + encoded}):
        body = client.post("/v1/predict?top_k=1", json=payload | {"top_k": 4, "embedding": True}).json()
        assert body["top"] == multipart["top"]  # the body's top_k wins over the query's
        assert len(body["embedding"]) == len(body["probabilities"]) == 92
        sigmoid = 1 / (1 + np.exp(-np.asarray(body["embedding"])))
        assert body["probabilities"] == pytest.approx(sigmoid.tolist(), abs=1e-5)


@pytest.mark.parametrize("winner, label", [("😀", "positive"), ("😭", "negative")])
def test_zero_shot_sentiment_follows_the_lexicon(winner, label, photo):
    assert (lookup(winner).score > 0) == (label == "positive")
    predictor = Predictor(biased_model(winner))
    tensor, _ = predictor.preprocess(photo)
    answer = predictor.answer(predictor.forward(tensor[None])[0])
    assert answer["top"][0]["emoji"].startswith(winner)
    assert answer["sentiment"]["binary"]["label"] == answer["sentiment"]["continuous"]["label"] == label


def test_onnx_backend_answers_like_torch(model, photo):
    torch_predictor, onnx_predictor = Predictor(model), Predictor(model, backend="onnx")
    tensor, _ = torch_predictor.preprocess(photo)
    batch = torch.stack([tensor, tensor.flip(-1)])
    np.testing.assert_allclose(onnx_predictor.forward(batch), torch_predictor.forward(batch), atol=1e-4)


def test_fingerprint_profile_is_the_probability_weighted_mean(tmp_path, photo):
    path = tmp_path / "emoji_fingerprints.csv"
    path.write_text(
        "emoji,name,amusement,sadness\n😀,grinning face,0.9,0.1\n😭,loudly crying face,0.2,0.7\n🦄,unicorn,5,5\n",
        encoding="utf-8",
    )
    predictor = Predictor(biased_model("😭"), fingerprints=path)
    tensor, _ = predictor.preprocess(photo)
    fingerprint = predictor.answer(predictor.forward(tensor[None])[0])["fingerprint"]
    assert fingerprint["classes"] == ["amusement", "sadness"]
    assert fingerprint["values"] == pytest.approx([0.2, 0.7], abs=1e-6)  # 🦄 is not in the vocabulary

    path.write_text("emoji,name,joy\n🦄,unicorn,1\n", encoding="utf-8")
    with pytest.raises(UserError, match="none of its emojis"):
        Predictor(biased_model("😭"), fingerprints=path)
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UserError, match="expected emoji_fingerprints.csv"):
        Predictor(biased_model("😭"), fingerprints=path)


def test_upload_over_the_limit_is_413(client):
    noisy = encode(np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8), "PNG")
    assert len(noisy) > LIMIT_MB * 1e6
    response = client.post("/v1/predict", files={"file": ("big.png", noisy, "image/png")})
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    # JSON: the decoded image counts, and a body without Content-Length is cut off while it streams
    response = client.post("/v1/predict", json={"image_base64": base64.b64encode(noisy).decode()})
    assert response.status_code == 413

    def chunks():
        for i in range(0, len(noisy), 4096):
            yield noisy[i : i + 4096]

    response = client.post(
        "/v1/predict", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "name, payload, reason",
    [
        ("text", b"hello, I am not a picture", "not an image"),
        ("empty", b"", "empty file"),
        ("bomb", png_header_only(30_000, 30_000), "too many pixels"),
    ],
)
def test_bad_images_are_400_with_the_reason(client, name, payload, reason):
    response = client.post("/v1/predict", files={"file": (f"{name}.png", payload, "image/png")})
    assert response.status_code == 400
    assert reason in response.json()["detail"]


def test_truncated_image_is_400(client, photo):
    response = client.post("/v1/predict", files={"file": ("cut.jpg", photo[: len(photo) // 2], "image/jpeg")})
    assert response.status_code == 400 and "truncated" in response.json()["detail"]


def test_pixel_limit_is_the_servers(model, photo):
    app = create_app(Predictor(model, max_pixels=1000))
    with TestClient(app) as small:
        response = small.post("/v1/predict", files={"file": ("a.jpg", photo, "image/jpeg")})
    assert response.status_code == 400 and "too many pixels: 64x48" in response.json()["detail"]


@pytest.mark.parametrize(
    "kwargs, status, reason",
    [
        ({"content": b"\xff\xd8", "headers": {"content-type": "image/jpeg"}}, 415, "multipart"),
        ({"content": b'{"image_base64": ', "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
        ({"content": b"[" * 100_000, "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
        ({"json": {"image": "abc"}}, 400, "image_base64"),
        ({"json": {"image_base64": "%%%not base64"}}, 400, "not valid base64"),
        (
            {"files": {"picture": ("a.jpg", b"x", "image/jpeg")}},
            400,
            "unknown form field 'picture': send the image in the field 'file'",
        ),
        ({"files": {"top_k": (None, b"3")}}, 400, "no field 'file'"),
        ({"content": b"--xyz\r\nbroken", "headers": {"content-type": "multipart/form-data"}}, 400, "boundary"),
    ],
)
def test_malformed_requests_are_4xx(client, kwargs, status, reason):
    response = client.post("/v1/predict", **kwargs)
    assert response.status_code == status
    assert reason in response.json()["detail"]


def test_mangled_multipart_bodies_never_get_a_5xx(client, photo):
    request = httpx.Request(
        "POST", "http://test/v1/predict", files={"file": ("a.jpg", photo, "image/jpeg")}, data={"top_k": "3"}
    )
    body, content_type = request.read(), request.headers["content-type"]
    rng = random.Random(0)
    statuses = set()
    for _ in range(150):  # flip, cut and insert bytes anywhere: headers, boundaries, image
        mangled = bytearray(body)
        for _ in range(rng.randint(1, 6)):
            pos, op = rng.randrange(len(mangled)), rng.random()
            if op < 0.4:
                mangled[pos] = rng.randrange(256)
            elif op < 0.7:
                del mangled[pos : pos + rng.randint(1, 40)]
            else:
                mangled[pos:pos] = rng.randbytes(rng.randint(1, 20))
        statuses.add(
            client.post("/v1/predict", content=bytes(mangled), headers={"content-type": content_type}).status_code
        )
    assert statuses <= {200, 400}


@pytest.mark.parametrize(
    "query, reason", [("top_k=0", "at least 1"), ("top_k=abc", "whole number"), ("embedding=maybe", "true or false")]
)
def test_bad_options_are_400(client, photo, query, reason):
    response = client.post(f"/v1/predict?{query}", files={"file": ("a.jpg", photo, "image/jpeg")})
    assert response.status_code == 400 and reason in response.json()["detail"]


def test_model_health_glyphs_and_docs(client):
    info = client.get("/v1/model").json()
    vocab = default_vocabulary()
    assert (info["arch"], info["num_classes"], info["image_size"]) == ("tiny", 92, 32)
    assert [v["name"] for v in info["vocabulary"]] == list(vocab.names)
    assert [v["subgroup"] for v in info["vocabulary"]] == list(vocab.subgroups)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/v1/glyphs/92.png").status_code == 404
    glyph = client.get("/v1/glyphs/0.png")
    if glyph.status_code == 200:  # without the emoji font the page shows names instead
        assert Image.open(io.BytesIO(glyph.content)).size == (64, 64)
    spec = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/model", "/healthz"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]


def test_page_loads_nothing_from_outside(client):
    for path in ("/", "/docs", "/static/page.js", "/static/page.css", "/static/swagger-init.js", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert not re.search(r"https?://|(src|href)=\"//", response.text), path  # no absolute URL anywhere
    assert client.get("/static/..%2Fapp.py").status_code == 404


def test_cli_bad_model_dir_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "smileynet", "serve", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "not a model dir" in result.stderr


def test_batcher_groups_concurrent_requests_and_survives_failures():
    calls: list[int] = []

    def forward(batch: torch.Tensor) -> np.ndarray:
        calls.append(len(batch))
        if (batch < 0).any():
            raise ValueError("boom")
        return batch.flatten(1).float().numpy() * 2

    async def scenario():
        batcher = MicroBatcher(forward, max_batch=8, max_wait_ms=100)
        batcher.start()
        try:
            rows = await asyncio.gather(*(batcher.submit(torch.full((2,), float(i))) for i in range(8)))
            with pytest.raises(ValueError):
                await batcher.submit(torch.full((2,), -1.0))
            after = await batcher.submit(torch.full((2,), 5.0))
        finally:
            await batcher.stop()
        return rows, after

    rows, after = asyncio.run(scenario())
    assert calls[0] == 8  # eight requests, one forward pass
    assert [row.tolist() for row in rows] == [[2.0 * i, 2.0 * i] for i in range(8)]
    assert after.tolist() == [10.0, 10.0]


def test_openapi_describes_the_requests_and_answers(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def answer(path: str, method: str = "post", status: str = "200") -> str:
        return spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"]

    predict = spec["paths"]["/v1/predict"]["post"]
    assert answer("/v1/predict").endswith("/Prediction")
    assert set(schemas["Prediction"]["properties"]) == {
        "top",
        "sentiment",
        "fingerprint",
        "embedding",
        "probabilities",
        "image",
    }
    assert set(schemas["TopEmoji"]["properties"]) == {"index", "emoji", "name", "probability"}
    assert set(schemas["ZeroShotSentiment"]["properties"]) == {"binary", "continuous"}
    assert set(schemas["ImageSize"]["properties"]) == {"width", "height"}
    assert answer("/v1/predict/batch").endswith("/BatchPrediction")
    assert "filename" in schemas["FilePrediction"]["properties"]
    assert answer("/v1/model", "get").endswith("/ModelInfo")
    assert {"vocabulary", "max_upload_bytes", "demo", "note"} <= set(schemas["ModelInfo"]["properties"])
    assert answer("/healthz", "get").endswith("/Health")
    for status in ("400", "408", "413", "415"):
        assert answer("/v1/predict", status=status).endswith("/ErrorDetail")
    assert "422" not in predict["responses"]  # invalid parameters are 400s here
    # the bodies the upload parser reads, and the typed, bounded query parameters
    form = predict["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"] == form["properties"]["file"] | {"type": "string", "format": "binary"}
    assert form["required"] == ["file"]
    assert "image_base64" in predict["requestBody"]["content"]["application/json"]["schema"]["properties"]
    batch_file = spec["paths"]["/v1/predict/batch"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert batch_file["schema"]["properties"]["file"]["maxItems"] == 8
    top_k = next(p for p in predict["parameters"] if p["name"] == "top_k")
    assert (top_k["in"], top_k["schema"]["type"], top_k["schema"]["minimum"]) == ("query", "integer", 1)
