"""listen bluesky: the Jetstream firehose (JSON events over a WebSocket) -> hourly archives.

Events are written exactly as received. The cursor is the last written event's `time_us` and how
many written events share it; a (re)connection asks for `cursor` a little earlier (Jetstream
replays from a cursor, inclusive, in time order) and drops what it already wrote, so a
disconnect, a kill or a restart loses nothing and writes nothing twice. Nothing grows with the
length of a run: the cursor is two numbers and the client's receive queue is bounded.

Jetstream instances stamp `time_us` on their own clocks: after a fail-over to another instance
the rewind (`rewind_us`, default 5 s) covers the difference between them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from smileynet.errors import UserError
from smileynet.listen.archive import HourlyArchive, hour_path
from smileynet.listen.common import (
    Backoff,
    Counters,
    Stopper,
    require,
    run_until_stopped,
)

DEFAULT_ENDPOINTS = (
    "wss://jetstream1.us-east.bsky.network/subscribe",
    "wss://jetstream2.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-west.bsky.network/subscribe",
    "wss://jetstream2.us-west.bsky.network/subscribe",
)
DEFAULT_COLLECTIONS = ("app.bsky.feed.post",)
REWIND_US = 5_000_000
MAX_FRAME = 1 << 21  # bytes; Jetstream events are a few KiB
QUEUE_FRAMES = 256  # frames the client buffers before it stops reading the socket


def subscribe_url(endpoint: str, collections: tuple[str, ...], cursor: int | None) -> str:
    """The endpoint with `wantedCollections` (repeated) and `cursor` added to its query."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("ws", "wss"):
        raise UserError(f"endpoint {endpoint!r}: expected a ws:// or wss:// URL")
    query = [("wantedCollections", c) for c in collections]
    if cursor is not None:
        query.append(("cursor", str(max(cursor, 0))))
    extra = urlencode(query)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def has_images(event: dict) -> bool:
    """A post created with pictures (alone, or beside a quoted record)."""
    commit = event.get("commit")
    if not isinstance(commit, dict) or commit.get("operation") != "create":
        return False
    embed = (commit.get("record") or {}).get("embed") or {}
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = embed.get("media") or {}
    return embed.get("$type") == "app.bsky.embed.images"


class JetstreamListener:
    """The receive loop: one connection at a time, endpoints in turn, the archive and the cursor."""

    def __init__(
        self,
        out: Path,
        endpoints: tuple[str, ...],
        collections: tuple[str, ...],
        stopper: Stopper,
        counters: Counters,
        *,
        idle_timeout: float,
        backoff: Backoff,
        commit_seconds: float,
        rewind_us: int,
        open_timeout: float,
    ) -> None:
        self.archive = HourlyArchive(out, "bluesky")
        self.endpoints, self.collections = endpoints, collections
        self.stopper, self.counters, self.backoff = stopper, counters, backoff
        self.idle_timeout, self.commit_seconds = idle_timeout, commit_seconds
        self.rewind_us, self.open_timeout = rewind_us, open_timeout
        saved = self.archive.cursor or {}
        self.last_us: int | None = saved.get("time_us")
        self.same: int = saved.get("same", 0)  # written events stamped `last_us`
        self.dirty = False
        self.last_frame = time.monotonic()
        self.received = 0  # frames of the current connection
        self.hour: int | None = None
        self.hour_name = ""

    @property
    def cursor(self) -> dict | None:
        return None if self.last_us is None else {"time_us": self.last_us, "same": self.same}

    async def run(self) -> None:
        """Connect, receive, and on any failure wait (backoff) and connect to the next endpoint."""
        from websockets.asyncio.client import connect

        turn = 0
        while True:
            endpoint = self.endpoints[turn % len(self.endpoints)]
            turn += 1
            rewound = None if self.last_us is None else self.last_us - self.rewind_us
            url = subscribe_url(endpoint, self.collections, rewound)
            self.received = 0
            try:
                async with connect(
                    url,
                    open_timeout=self.open_timeout,
                    max_size=MAX_FRAME,
                    max_queue=QUEUE_FRAMES,
                    compression=None,
                    ping_interval=20,
                    ping_timeout=20,
                ) as ws:
                    self.counters.connections += 1
                    await self._receive(ws)
                if self.stopper.event.is_set():
                    return
                self.counters.failed(f"{endpoint}: closed by the server")
            except asyncio.CancelledError:
                raise
            except Exception as err:  # refused, reset, handshake, close frame, idle: all mean reconnect
                self.counters.failed(f"{endpoint}: {type(err).__name__}: {err}")
            self._commit()
            if self.received:
                self.backoff.reset()
            await asyncio.sleep(self.backoff.delay())

    async def _receive(self, ws) -> None:
        """Write the connection's new events until it ends; a watchdog cuts it when it falls silent."""
        import orjson

        skip_us, skip = self.last_us, self.same  # the replay starts with these, already written
        self.last_frame = time.monotonic()
        watchdog = asyncio.create_task(self._watch(ws))
        try:
            while True:
                frame = await ws.recv(decode=False)  # bytes as sent: no UTF-8 round trip; orjson checks it
                self.received += 1
                self.last_frame = time.monotonic()
                try:
                    event = orjson.loads(frame)
                    time_us = event["time_us"]
                    if not isinstance(time_us, int) or isinstance(time_us, bool):
                        raise TypeError("time_us is not an integer")
                except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
                    self.counters.bad_frames += 1
                    continue
                if self.last_us is not None and time_us <= self.last_us:
                    if time_us < self.last_us or (time_us == skip_us and skip > 0):
                        skip -= time_us == skip_us
                        self.counters.repeats += 1
                        continue
                self._write(event, time_us, frame)
                if self.stopper.full(self.counters):
                    break
        finally:
            watchdog.cancel()

    def _write(self, event: dict, time_us: int, frame: bytes) -> None:
        hour = time_us // 3_600_000_000
        if hour != self.hour:  # the file name is formatted once an hour, not once an event
            self.hour, self.hour_name = hour, hour_path(time_us / 1e6)
            if self.archive.switching(self.hour_name):
                self._commit()
        self.archive.write(self.hour_name, frame)
        if time_us == self.last_us:
            self.same += 1
        else:
            self.last_us, self.same = time_us, 1
        self.dirty = True
        counters = self.counters
        counters.written += 1
        if event.get("kind") == "commit":
            operation = (event.get("commit") or {}).get("operation")
            counters.deletes += operation == "delete"
            counters.images += has_images(event)

    def _commit(self) -> None:
        if self.dirty:
            self.archive.commit(self.cursor)
            self.dirty = False

    async def _watch(self, ws) -> None:
        """Commit once a `commit_seconds`, and drop a connection silent for `idle_timeout`."""
        while True:
            await asyncio.sleep(min(self.commit_seconds, self.idle_timeout))
            self._commit()
            if time.monotonic() - self.last_frame >= self.idle_timeout:
                self.counters.failed(f"no data for {self.idle_timeout:g} s")
                ws.transport.abort()
                return

    def close(self) -> None:
        self.archive.close(self.cursor)


def listen_bluesky(
    out: str | Path,
    *,
    endpoints: list[str] | None = None,
    collections: list[str] | None = None,
    duration: float | None = None,
    max_events: int | None = None,
    quiet: bool = False,
    idle_timeout: float = 30.0,
    backoff: Backoff | None = None,
    commit_seconds: float = 1.0,
    rewind_us: int = REWIND_US,
    open_timeout: float = 10.0,
) -> dict:
    """Record Jetstream events into `out` until a stop rule fires; returns the run's counts.
    Restarting with the same `out` resumes after the last event written."""
    endpoints = tuple(endpoints or DEFAULT_ENDPOINTS)
    collections = tuple(collections or DEFAULT_COLLECTIONS)
    for endpoint in endpoints:
        subscribe_url(endpoint, collections, None)  # a bad URL fails now, in one line
    if max_events is not None and max_events < 1 or duration is not None and duration <= 0:
        raise UserError("--max-events and --duration must be positive")
    require("websockets")

    async def main() -> dict:
        stopper, counters = Stopper(duration, max_events), Counters()
        listener = JetstreamListener(
            Path(out),
            endpoints,
            collections,
            stopper,
            counters,
            idle_timeout=idle_timeout,
            backoff=backoff or Backoff(),
            commit_seconds=commit_seconds,
            rewind_us=rewind_us,
            open_timeout=open_timeout,
        )
        try:
            await run_until_stopped(stopper, counters, listener.run, quiet)
        finally:
            listener.close()
        return {**counters.result(), "stopped": stopper.reason, "cursor": listener.cursor}

    return asyncio.run(main())
