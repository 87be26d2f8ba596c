"""A bounded load test against a running server, and a server on 127.0.0.1 to run it on (in a
thread, or `smileynet serve` in its own process, whose memory can then be read).

Used by `benchmarks/bench_serve.py` and the tests: N requests, C at a time, a share of them
malformed (random bytes, truncated JPEGs, empty files, invalid JSON, bad base64), counting
status codes and timing the good ones. A healthy server answers every request, none with a 5xx.
`claiming_jpeg` makes the hostile kind: a few hundred bytes whose header claims a huge image.
"""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MALFORMED_KINDS = ("random_bytes", "truncated_jpeg", "empty", "bad_json", "bad_base64")


@dataclass
class LoadRequest:
    kind: str  # "jpeg", "png_json" or one of MALFORMED_KINDS
    files: dict | None = None
    json: dict | None = None
    content: bytes | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def background_server(app, port: int | None = None, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a daemon thread; yields the base URL, stops on exit."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


@contextmanager
def serve_process(model: Path, *flags: str, timeout: float = 90.0) -> Iterator[tuple[str, int]]:
    """`smileynet serve MODEL FLAGS` on a free loopback port in its own process: yields (base URL,
    pid) once /healthz answers 200; terminated on exit."""
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "smileynet", "serve", str(model), "--port", str(port), "--quiet", *flags]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"server exited: {server.stdout.read().decode()[-2000:] if server.stdout else ''}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not come up")
            time.sleep(0.2)
        yield url, server.pid
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def memory_of(pid: int) -> dict[str, int]:
    """A Linux process's resident memory now (VmRSS) and at its peak (VmHWM), in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024  # kB
    return fields


def claiming_jpeg(width: int, height: int) -> bytes:
    """A valid 16 x 16 JPEG of a few hundred bytes whose frame header claims `width` x `height`:
    decoders allocate the claimed size, then fill what the data lacks."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 30, 200)).save(out, "JPEG", quality=50)
    data = bytearray(out.getvalue())
    pos = 2
    while data[pos + 1] not in (0xC0, 0xC1, 0xC2):  # walk the segments to the start of frame
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    data[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def make_requests(n: int, malformed: float = 0.1, seed: int = 0, size: int = 96) -> list[LoadRequest]:
    """`n` requests; `malformed` of them bad in rotating ways, the rest JPEGs (multipart) and PNGs (JSON)."""
    rng = np.random.default_rng(seed)
    bad = sorted(rng.choice(n, size=int(round(n * malformed)), replace=False).tolist())
    kinds = {index: MALFORMED_KINDS[j % len(MALFORMED_KINDS)] for j, index in enumerate(bad)}
    requests = []
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size + 8 * (i % 5), 3), dtype=np.uint8)
        jpeg = _encode(pixels, "JPEG")
        if i in kinds:
            kind = kinds[i]
            body = {"random_bytes": rng.bytes(2000), "truncated_jpeg": jpeg[: len(jpeg) // 2], "empty": b""}
            if kind in body:
                requests.append(LoadRequest(kind, files={"file": ("x.jpg", body[kind], "image/jpeg")}))
            elif kind == "bad_json":
                requests.append(LoadRequest(kind, content=b'{"image_base64": '))
            else:
                requests.append(LoadRequest(kind, json={"image_base64": "not base64 !!"}))
        elif i % 2:
            requests.append(
                LoadRequest("png_json", json={"image_base64": base64.b64encode(_encode(pixels, "PNG")).decode()})
            )
        else:
            requests.append(LoadRequest("jpeg", files={"file": ("x.jpg", jpeg, "image/jpeg")}))
    return requests


def _encode(pixels: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def run_load(base_url: str, requests: list[LoadRequest], concurrency: int = 16, timeout: float = 60.0) -> dict:
    """Send `requests` with `concurrency` in flight; status counts, latency percentiles (ms) of the
    good requests, and throughput (requests/s over the whole run)."""
    return asyncio.run(_run_load(base_url, requests, concurrency, timeout))


async def _run_load(base_url: str, requests: list[LoadRequest], concurrency: int, timeout: float) -> dict:
    import httpx

    statuses: Counter[int] = Counter()
    by_kind: dict[str, Counter[int]] = {}
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[LoadRequest] = asyncio.Queue()
    for request in requests:
        queue.put_nowait(request)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            request = queue.get_nowait()
            headers = {"content-type": "application/json"} if request.content is not None else None
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/v1/predict", files=request.files, json=request.json, content=request.content, headers=headers
                )
            except httpx.HTTPError as err:
                errors.append(f"{request.kind}: {type(err).__name__}")
                continue
            elapsed = time.perf_counter() - started
            statuses[response.status_code] += 1
            by_kind.setdefault(request.kind, Counter())[response.status_code] += 1
            if response.status_code == 200:
                latencies.append(elapsed * 1000)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    lat = np.asarray(latencies) if latencies else np.zeros(1)
    return {
        "requests": len(requests),
        "concurrency": concurrency,
        "statuses": dict(sorted(statuses.items())),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "errors": errors,
        "server_errors": sum(n for code, n in statuses.items() if code >= 500),
        "p50_ms": float(np.percentile(lat, 50)),
        "p90_ms": float(np.percentile(lat, 90)),
        "p99_ms": float(np.percentile(lat, 99)),
        "throughput_rps": len(requests) / wall,
        "wall_s": wall,
    }
