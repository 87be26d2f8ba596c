"""Loopback stand-ins for Jetstream (websockets) and a Mastodon instance (SSE + REST), on threads."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import zstandard

T0 = 1_733_000_000_000_000  # 2024-11-30T20:53:20Z, in microseconds


def jetstream_events(n: int, seed: int = 0, start_us: int = T0, step_us: int = 400_000) -> list[dict]:
    """`n` Jetstream-shaped events in time order: posts (some with images), likes, deletes,
    identity events; some share a `time_us`, as events of one instant do."""
    rng = random.Random(seed)
    events, t = [], start_us
    for i in range(n):
        t += rng.choice([0, step_us, step_us, step_us // 3])
        did = f"did:plc:user{rng.randrange(50):04d}"
        kind = rng.random()
        if kind < 0.6:
            record: dict[str, Any] = {
                "$type": "app.bsky.feed.post",
                "createdAt": "2024-11-30T21:00:00.000Z",
                "langs": ["en"],
                "text": f"post {i} \U0001f602",
            }
            if rng.random() < 0.5:
                record["embed"] = {
                    "$type": "app.bsky.embed.images",
                    "images": [
                        {
                            "alt": "",
                            "image": {
                                "$type": "blob",
                                "ref": {"$link": f"bafkrei{i:06d}"},
                                "mimeType": "image/jpeg",
                                "size": 1000,
                            },
                        }
                    ],
                }
            event = {
                "did": did,
                "time_us": t,
                "kind": "commit",
                "commit": {
                    "rev": f"r{i}",
                    "operation": "create",
                    "collection": "app.bsky.feed.post",
                    "rkey": f"k{i:06d}",
                    "record": record,
                    "cid": f"bafyrei{i:06d}",
                },
            }
        elif kind < 0.75:
            event = {
                "did": did,
                "time_us": t,
                "kind": "commit",
                "commit": {
                    "rev": f"r{i}",
                    "operation": "create",
                    "collection": "app.bsky.feed.like",
                    "rkey": f"l{i:06d}",
                    "record": {"$type": "app.bsky.feed.like", "createdAt": "2024-11-30T21:00:00.000Z"},
                },
            }
        elif kind < 0.9:
            event = {
                "did": did,
                "time_us": t,
                "kind": "commit",
                "commit": {
                    "rev": f"r{i}",
                    "operation": "delete",
                    "collection": "app.bsky.feed.post",
                    "rkey": f"k{rng.randrange(max(i, 1)):06d}",
                },
            }
        else:
            event = {"did": did, "time_us": t, "kind": "identity", "identity": {"did": did, "handle": "a.example"}}
        events.append(event)
    return events


def wanted(event: dict, collections: list[str]) -> bool:
    """Jetstream's filter: commits of the wanted collections; identity and account events always."""
    if event.get("kind") != "commit" or not collections:
        return True
    return event["commit"]["collection"] in collections


def lines_on_disk(out: Path, partial: bool = False) -> list[str]:
    """Every line of the hourly files, in hour order (finished files only, unless `partial`)."""
    files = sorted(p for p in out.rglob("*.jsonl.zst*") if partial or not p.name.endswith(".partial"))
    lines = []
    for path in files:
        with open(path, "rb") as f:
            text = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read().decode()
        lines.extend(text.splitlines())
    return lines


class JetstreamServer:
    """Replays `events` (as fixed JSON strings) from `cursor`, inclusive, honouring `wantedCollections`.

    `script(connection_number, frames_sent)` is asked before every frame and answers None (send it),
    "cut" (drop the TCP connection), "close" (a close frame), "silent" (stop sending, keep the
    socket open), "garbage" (send a non-JSON frame first), or "end" (close normally at the end)."""

    def __init__(
        self, events: list[dict], script: Callable[[int, int], str | None] | None = None, delay: float = 0.0
    ) -> None:
        self.frames = [(e["time_us"], e, json.dumps(e, separators=(",", ":"))) for e in events]
        self.script = script or (lambda connection, sent: None)
        self.delay = delay
        self.connections: list[dict] = []  # the query of each connection
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def __enter__(self) -> JetstreamServer:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stopped.set_result, None)
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/subscribe"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self.stopped = self.loop.create_future()
        async with serve(self._handler, "127.0.0.1", 0, compression=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()
            await self.stopped

    async def _handler(self, ws) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        number = len(self.connections)
        self.connections.append(query)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        collections = query.get("wantedCollections", [])
        sent = 0
        for time_us, event, text in self.frames:
            behind = isinstance(time_us, int | float) and cursor is not None and time_us < cursor
            if behind or not wanted(event, collections):
                continue
            action = self.script(number, sent)
            if action == "cut":
                ws.transport.abort()
                return
            if action == "close":
                await ws.close(1011, "going away")
                return
            if action == "silent":
                await ws.wait_closed()
                return
            if action == "garbage":
                await ws.send("this is not JSON {")
                await ws.send(b"\x00\x01binary")
            await ws.send(text)
            sent += 1
            if self.delay:
                await asyncio.sleep(self.delay)
        await ws.wait_closed()  # a live stream never ends: the listener stops on its own rules


def replayed(events: list[dict], collections: Sequence[str] = ("app.bsky.feed.post",)) -> list[str]:
    """The JSON lines a perfect recording of `events` holds."""
    return [json.dumps(e, separators=(",", ":")) for e in events if wanted(e, list(collections))]


def mastodon_statuses(n: int, first_id: int = 110_000_000_000_000_000) -> list[dict]:
    """`n` public statuses, ids increasing; every third has a picture and a smiley."""
    statuses = []
    for i in range(n):
        status_id = str(first_id + i * 65_536)
        media = [{"id": f"m{i}", "type": "image", "url": f"https://files.example/{i}.jpg"}] if i % 3 == 0 else []
        statuses.append(
            {
                "id": status_id,
                "uri": f"https://social.example/users/u{i % 7}/statuses/{status_id}",
                "created_at": f"2024-11-30T21:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
                "in_reply_to_id": None,
                "reblog": None,
                "language": "en",
                "content": f"<p>status {i} \U0001f60d</p>",
                "account": {"id": str(i % 7), "url": f"https://social.example/@u{i % 7}"},
                "media_attachments": media,
                "mentions": [],
                "tags": [],
            }
        )
    return statuses


def newer(status: object, min_id: int) -> bool:
    """What `min_id` lets through; a status without a numeric id never is (it came on the first page)."""
    return isinstance(status, dict) and str(status.get("id")).isdigit() and int(status["id"]) > min_id


class MastodonServer:
    """A Mastodon instance on loopback, answering as the real API does: `/api/v2/instance`, the
    public timeline (`min_id`, `limit`) and the public stream (server-sent events).

    Statuses are published as time goes: `published` of them exist. Each timeline request publishes
    `per_request` more; stream connection k sends `stream_plan[k]` statuses live (publishing each),
    with a delete event after the first, an edit (`status.update`) of every third one and heartbeats
    between, then drops the connection and publishes `gap` statuses nobody streams (only a catch-up
    poll finds them). Timeline requests listed in `limited` (by number) answer 429 as Mastodon does:
    no Retry-After, `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` one second ahead (ISO 8601).

    `token`: the stream needs it; `timeline_token`: the timeline needs it too. `live_feeds`: what
    `configuration.timelines_access.live_feeds` says. `streaming_host`: a second server, on
    127.0.0.2, serves the stream; the instance advertises it (`advertise`) and answers its own stream
    URL with a 301 there (as large instances do). `hostile`: "endless line" (a stream line that
    never ends), "ping flood" (heartbeats only, as fast as the socket takes them), "endless page"
    (a timeline body that never ends); `sent` counts the bytes those wrote."""

    def __init__(
        self,
        statuses: list[dict],
        *,
        token: str | None = None,
        timeline_token: str | None = None,
        published: int = 0,
        per_request: int = 0,
        stream_plan: tuple[int, ...] = (),
        gap: int = 0,
        limited: tuple[int, ...] = (),
        live_feeds: dict | None = None,
        streaming_host: bool = False,
        advertise: bool = True,
        instance_info: bool = True,
        hostile: str | None = None,
    ) -> None:
        self.statuses, self.token, self.timeline_token, self.published = statuses, token, timeline_token, published
        self.per_request, self.stream_plan, self.gap, self.limited = per_request, stream_plan, gap, limited
        self.live_feeds, self.advertise, self.instance_info, self.hostile = (
            live_feeds,
            advertise,
            instance_info,
            hostile,
        )
        self.timeline_requests: list[tuple[float, dict, int]] = []  # (time, query, status code)
        self.stream_connections = 0
        self.stream_hosts: list[str] = []  # the host each stream connection came to
        self.deleted: list[str] = []
        self.edited: list[dict] = []  # every status.update sent, in order
        self.sent = 0
        self.lock = threading.Lock()
        self.httpd = self._server("127.0.0.1", streams=not streaming_host)
        self.streaming = self._server("127.0.0.2", streams=True) if streaming_host else None

    def _server(self, host: str, streams: bool):
        import http.server

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = urlsplit(self.path)
                if path.path == "/api/v1/streaming/public" and streams:
                    server._stream(self, host)
                elif path.path == "/api/v1/streaming/public":
                    self._send(301, b"", {"Location": f"{server.streaming_url}/api/v1/streaming/public"})
                elif host == "127.0.0.1" and path.path == "/api/v1/timelines/public":
                    server._timeline(self, parse_qs(path.query))
                elif host == "127.0.0.1" and path.path == "/api/v2/instance" and server.instance_info:
                    self._send(200, json.dumps(server.instance()).encode())
                else:
                    self._send(404, b'{"error":"Record not found"}')

            def _send(self, code: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        httpd.daemon_threads = True
        return httpd

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def streaming_url(self) -> str:
        assert self.streaming is not None
        return f"http://127.0.0.2:{self.streaming.server_address[1]}"

    def __enter__(self) -> MastodonServer:
        for httpd in (self.httpd, self.streaming):
            if httpd is not None:
                threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        for httpd in (self.httpd, self.streaming):
            if httpd is not None:
                httpd.shutdown()
                httpd.server_close()

    def instance(self) -> dict:
        """The /api/v2/instance fields the listener reads, among a few others, as Mastodon 4.5 shapes them."""
        streaming = self.streaming_url if self.streaming and self.advertise else self.url
        configuration: dict = {
            "urls": {"streaming": streaming.replace("http://", "ws://"), "status": None, "about": f"{self.url}/about"},
            "statuses": {"max_characters": 500, "max_media_attachments": 4},
            "media_attachments": {"image_size_limit": 16777216},
        }
        if self.live_feeds is not None:
            configuration["timelines_access"] = {
                "live_feeds": self.live_feeds,
                "hashtag_feeds": {"local": "public", "remote": "public"},
                "trending_link_feeds": {"local": "public", "remote": "public"},
            }
        return {
            "domain": "social.example",
            "title": "Social Example",
            "version": "4.5.0",
            "source_url": "https://github.com/mastodon/mastodon",
            "configuration": configuration,
            "registrations": {"enabled": False, "approval_required": False, "message": None},
        }

    def _authorised(self, handler, token: str | None) -> bool:
        return token is None or handler.headers.get("Authorization") == f"Bearer {token}"

    def _timeline(self, handler, query: dict) -> None:
        import time
        from datetime import UTC, datetime, timedelta

        if not self._authorised(handler, self.timeline_token):
            handler._send(401, b'{"error":"This method requires an authenticated user"}')
            return
        if self.hostile == "endless page":
            self._endless(handler, "application/json", b"[" + b'{"id":"1","content":"' + b"x" * 65536, b"x" * 65536)
            return
        with self.lock:
            number = len(self.timeline_requests)
            reset = (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="microseconds").replace("+00:00", "Z")
            if number in self.limited:
                self.timeline_requests.append((time.monotonic(), query, 429))
                handler._send(
                    429,
                    b'{"error":"Too many requests"}',
                    {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                )
                return
            self.timeline_requests.append((time.monotonic(), query, 200))
            self.published = min(self.published + self.per_request, len(self.statuses))
            visible = self.statuses[: self.published]
            limit = int(query.get("limit", ["20"])[0])
            if "min_id" in query:
                after = [s for s in visible if newer(s, int(query["min_id"][0]))][:limit]
            else:
                after = visible[-limit:]
        handler._send(
            200,
            json.dumps(after[::-1]).encode(),
            {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299", "X-RateLimit-Reset": reset},
        )

    def _endless(self, handler, content_type: str, first: bytes, then: bytes) -> None:
        """A chunked body that never ends (until the client goes)."""
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for data in itertools.chain([first], itertools.repeat(then)):
                handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.sent += len(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            handler.close_connection = True

    def _stream(self, handler, host: str) -> None:
        import time

        if not self._authorised(handler, self.token):
            handler._send(401, b'{"error":"This method requires an authenticated user"}')
            return
        with self.lock:
            number = self.stream_connections
            self.stream_connections += 1
            self.stream_hosts.append(host)
        if self.hostile == "endless line":
            self._endless(handler, "text/event-stream", b"event: update\ndata: {", b"9" * 65536)
            return
        if self.hostile == "ping flood":
            self._endless(handler, "text/event-stream", b":)\n", b":thump\n" * 8192)
            return
        count = self.stream_plan[number] if number < len(self.stream_plan) else len(self.statuses)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def chunk(text: str) -> None:
            data = text.encode()
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        try:
            chunk(":)\n")
            time.sleep(0.2)  # the client catches up by polling meanwhile
            for sent in range(count):
                with self.lock:
                    if self.published >= len(self.statuses):
                        break
                    status = self.statuses[self.published]
                    self.published += 1
                chunk(f"event: update\ndata: {json.dumps(status)}\n\n:thump\n")
                if sent == 0:
                    self.deleted.append(status["id"])
                    chunk(f"event: delete\ndata: {status['id']}\n\n")
                if sent % 3 == 2:
                    edit = {
                        **status,
                        "content": status["content"] + "<p>(edited)</p>",
                        "edited_at": "2024-11-30T22:00:00.000Z",
                    }
                    self.edited.append(edit)
                    chunk(f"event: status.update\ndata: {json.dumps(edit)}\n\n")
                time.sleep(0.005)
            with self.lock:
                self.published = min(self.published + self.gap, len(self.statuses))
            if number < len(self.stream_plan):
                return  # dropped without the closing chunk: a cut connection
            while True:
                time.sleep(0.1)
                chunk(":thump\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            handler.close_connection = True


class HostileJetstream:
    """A WebSocket peer that misbehaves on every connection: "ping flood" (pings as fast as the
    socket takes them, never reading the pongs, no data), "half frame" (a 1 MiB text frame
    announced and never finished), "one junk frame" (a non-JSON frame, then a close), "close" (a
    close at once). Raw sockets: a WebSocket library would not send what these send."""

    def __init__(self, behaviour: str) -> None:
        import socket

        self.behaviour = behaviour
        self.connections = 0
        self.sent = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.listener.getsockname()[1]}/subscribe"

    def __enter__(self) -> HostileJetstream:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(10)
        self.listener.close()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)  # a closed listening socket does not wake accept(): look now and then
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn) -> None:
        import base64
        import hashlib

        try:
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            if self.behaviour == "ping flood":
                pings = b"\x89\x7d" + b"p" * 125  # unmasked ping frames, the largest payload allowed
                burst = pings * 512
                while not self.stopped.is_set():
                    conn.sendall(burst)
                    self.sent += len(burst)
            elif self.behaviour == "half frame":
                conn.sendall(b"\x81\x7f" + (1 << 20).to_bytes(8, "big") + b"{" * (1 << 19))
                self.sent += 1 << 19
                self.stopped.wait(30)
            elif self.behaviour == "one junk frame":
                conn.sendall(b"\x81\x04junk" + b"\x88\x02\x03\xe8")
            else:
                conn.sendall(b"\x88\x02\x03\xe8")
        except OSError:
            pass
        finally:
            conn.close()
