"""`smileynet serve` against hostile clients: slow headers and bodies, foreign Host headers, a
49000 x 1 PNG, and any bytes at all in a multipart upload (Hypothesis)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import torch
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from starlette.requests import Request

from smileynet.model import create_model
from smileynet.serve.app import create_app
from smileynet.serve.predictor import Predictor
from smileynet.serve.server import ServeConfig, uvicorn_config
from smileynet.serve.upload import Upload, UploadError, read_upload


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return Predictor(create_model("tiny", 92, image_size=32).eval())


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, "PNG")
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dribble(port: int, head: bytes, give_up: float = 8.0) -> tuple[float, bytes]:
    """Send `head`, then one byte every 0.2 s until the server answers or closes:
    (seconds it took, what the server sent)."""
    start = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(0.2)
        sock.sendall(head)
        while time.monotonic() - start < give_up:
            try:
                sock.sendall(b"x")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    return time.monotonic() - start, received


def test_slow_headers_and_bodies_are_cut_off(predictor, tmp_path):
    """20 connections dribbling bytes: slow headers are closed after --header-timeout, a slow
    upload gets 408 after --body-timeout, a body nobody reads (GET /) does not hold the
    connection; the server keeps answering."""
    port = free_port()
    config = ServeConfig(model=tmp_path, port=port, header_timeout=1.0, body_timeout=1.0, quiet=True)
    server = uvicorn.Server(uvicorn_config(create_app(predictor, body_timeout=config.body_timeout), config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.02)
    heads = {
        "headers": b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
        "upload": b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b'Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n',
        "unread": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n",
    }
    kinds = ["headers"] * 8 + ["upload"] * 8 + ["unread"] * 4
    try:
        with ThreadPoolExecutor(len(kinds)) as pool:
            results = list(pool.map(lambda kind: dribble(port, heads[kind]), kinds))
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
    for kind, (seconds, received) in zip(kinds, results):
        assert seconds < 4.0, (kind, seconds)
        if kind == "headers":
            assert received == b""
        elif kind == "upload":
            assert received.startswith(b"HTTP/1.1 408") and b"not received within 1 s" in received
        else:
            assert received.startswith(b"HTTP/1.1 200")


def test_allowed_hosts(predictor):
    with TestClient(create_app(predictor, allowed_hosts=["localhost", "127.0.0.1"])) as client:
        assert client.get("/healthz", headers={"host": "localhost"}).status_code == 200
        assert client.get("/healthz", headers={"host": "127.0.0.1:8000"}).status_code == 200
        assert client.get("/healthz", headers={"host": "attacker.example"}).status_code == 400
    with TestClient(create_app(predictor)) as client:  # no list: any Host, as before
        assert client.get("/healthz", headers={"host": "attacker.example"}).status_code == 200


STRIP_SCRIPT = """
import io, json, resource, sys
import torch
from fastapi.testclient import TestClient
from PIL import Image
from smileynet.model import create_model
from smileynet.serve.app import create_app
from smileynet.serve.predictor import Predictor

def png(size):
    out = io.BytesIO()
    Image.new("L", size, 255).save(out, "PNG")
    return out.getvalue()

torch.manual_seed(0)
with TestClient(create_app(Predictor(create_model("tiny", 92, image_size=224).eval()))) as client:
    assert client.post("/v1/predict", files={"file": ("ok.png", png((300, 200)))}).status_code == 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer = client.post("/v1/predict", files={"file": ("strip.png", png((49000, 1)))})
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"status": answer.status_code, "detail": answer.json()["detail"], "growth": (after - before) * 1024}))
"""


def test_a_49000_by_1_png_is_refused_in_bounded_memory():
    """A few hundred bytes of PNG that a 224-px model's resize would turn into 5 GB of pixels."""
    result = subprocess.run([sys.executable, "-c", STRIP_SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 400 and report["detail"].startswith("bad image: extreme aspect ratio: 49000x1")
    assert report["growth"] < 50e6, f"peak RSS grew by {report['growth'] / 1e6:.0f} MB"


# -- the multipart upload parser, on any bytes (Hypothesis) --

LIMIT = 2000


def request_of(body_chunks: list[bytes], content_type: bytes) -> Request:
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in body_chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/predict",
        "headers": [(b"content-type", content_type)],
        "query_string": b"",
    }
    return Request(scope, receive)


def parse(body: bytes, cuts: list[int], content_type: bytes = b"multipart/form-data; boundary=XyZ") -> Upload:
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in zip(points, points[1:])]
    return asyncio.run(read_upload(request_of(chunks, content_type), LIMIT, body_timeout=5.0))


def form(parts: list[tuple[str, bytes]], boundary: bytes = b"XyZ") -> bytes:
    out = b""
    for name, data in parts:
        filename = b'; filename="x.jpg"' if name == "file" else b""
        out += (
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="'
            + name.encode()
            + b'"'
            + filename
            + b"\r\n\r\n"
        )
        out += data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


SETTINGS = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    image=st.binary(max_size=LIMIT),
    top_k=st.integers(1, 10**6),
    embedding=st.booleans(),
    cuts=st.lists(st.integers(0, 10**4), max_size=8),
)
def test_well_formed_uploads_parse_back_whatever_the_chunking(image, top_k, embedding, cuts):
    if b"XyZ" in image:
        return
    upload = parse(
        form([("file", image), ("top_k", str(top_k).encode()), ("embedding", str(embedding).lower().encode())]), cuts
    )
    assert upload.image == image
    assert upload.options == {"top_k": str(top_k), "embedding": str(embedding).lower()}


@SETTINGS
@given(body=st.binary(max_size=4000), cuts=st.lists(st.integers(0, 10**4), max_size=8))
def test_any_bytes_give_an_upload_or_a_4xx(body, cuts):
    try:
        upload = parse(body, cuts)
    except UploadError as err:
        assert 400 <= err.status < 500 and str(err)
    else:
        assert isinstance(upload.image, bytes) and len(upload.image) <= LIMIT


@SETTINGS
@given(
    image=st.binary(min_size=1, max_size=LIMIT * 2),
    edits=st.lists(st.tuples(st.integers(0, 10**4), st.binary(max_size=6)), max_size=5),
    cuts=st.lists(st.integers(0, 10**4), max_size=8),
)
def test_mangled_forms_give_an_upload_or_a_4xx(image, edits, cuts):
    body = bytearray(form([("file", image), ("top_k", b"3")]))
    for at, junk in edits:  # overwrite bytes (boundaries, headers, CRLFs) with junk
        at %= len(body)
        body[at : at + len(junk)] = junk
    try:
        upload = parse(bytes(body), cuts)
    except UploadError as err:
        assert err.status in (400, 413)
        if len(image) > LIMIT and not edits:
            assert err.status == 413
    else:
        assert len(upload.image) <= LIMIT and set(upload.options) <= {"top_k", "embedding"}


def test_a_non_multipart_type_is_415():
    with pytest.raises(UploadError) as err:
        parse(b"x", [], content_type=b"text/plain")
    assert err.value.status == 415
