"""listen bluesky: the Jetstream firehose (JSON events over a WebSocket) -> hourly archives.

Events are written exactly as received. The cursor is the last written event's `time_us` and how
many written events share it; a (re)connection asks for `cursor` a little earlier (Jetstream
replays from a cursor, inclusive, in time order) and drops what it already wrote, so a
disconnect, a kill or a restart loses nothing and writes nothing twice. Nothing grows with the
length of a run: the cursor is two numbers and the client's receive queue is bounded.

Jetstream instances stamp `time_us` on their own clocks: after a fail-over to another instance
the rewind (`rewind_us`, default 5 s) covers the difference between them. An event stamped more
than `FUTURE_SLACK_SECONDS` ahead of our clock is a counted bad frame, never the cursor: a cursor
in the future would make every later event look already written.

Memory is bounded whatever the peer sends: frames over `MAX_FRAME` end the connection, at most
`QUEUE_FRAMES` wait to be read (the socket is not read meanwhile), a half frame is cut by the idle
watchdog, and a peer that floods pings without reading the pongs is cut once `MAX_UNSENT` bytes
wait to be sent. Backoff is reset only by a connection that wrote new events: a peer that sends
one frame and closes is retried as slowly as one that only closes.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from smileynet.errors import UserError
from smileynet.listen.archive import STATE, HourlyArchive, hour_path
from smileynet.listen.common import (
    FUTURE_SLACK_SECONDS,
    Backoff,
    Counters,
    Stopper,
    check_connected,
    positive,
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
MAX_FRAME = 1 << 20  # bytes; Jetstream events are a few KiB
QUEUE_FRAMES = 32  # frames the client buffers before it stops reading the socket: <= 32 MiB held
MAX_UNSENT = 1 << 20  # bytes of replies (pongs) the peer has not read before the connection is cut


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
    """A post created with pictures (alone, or beside a quoted record); any other shape is not one."""
    commit = event.get("commit")
    if not isinstance(commit, dict) or commit.get("operation") != "create":
        return False
    record = commit.get("record")
    embed = record.get("embed") if isinstance(record, dict) else None
    if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = embed.get("media")
    return isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.images"


def now_us() -> int:
    return int(time.time() * 1_000_000)


def checked_cursor(saved: Any, where: Path) -> tuple[int | None, int]:
    """(time_us, same) of a saved cursor; one that is not two sane integers is a one-line error."""
    if saved is None:
        return None, 0
    time_us = saved.get("time_us") if isinstance(saved, dict) else None
    same = saved.get("same", 0) if isinstance(saved, dict) else None
    limit = now_us() + int(FUTURE_SLACK_SECONDS * 1e6)
    if not (
        isinstance(time_us, int)
        and isinstance(same, int)
        and not isinstance(time_us, bool)
        and not isinstance(same, bool)
        and 0 <= time_us <= limit
        and same >= 0
    ):
        raise UserError(
            f"{where / STATE}: the saved cursor {saved!r} is not a Jetstream time in the past: "
            "move the file away to record afresh"
        )
    return time_us, same


def _connection_class() -> type:
    """websockets' client connection, cut when the peer stops reading what it answers (pongs)."""
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import CloseCode

    class BoundedConnection(ClientConnection):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.get_write_buffer_size() > MAX_UNSENT and not self.transport.is_closing():
                self.protocol.fail(CloseCode.POLICY_VIOLATION, "the peer does not read our replies")
                self.transport.abort()

    return BoundedConnection


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
        self.last_us, self.same = checked_cursor(self.archive.cursor, out)  # same: written events stamped last_us
        self.dirty = False
        self.last_frame = time.monotonic()
        self.fresh = 0  # events the current connection wrote
        self.hour: int | None = None
        self.hour_name = ""

    @property
    def cursor(self) -> dict | None:
        return None if self.last_us is None else {"time_us": self.last_us, "same": self.same}

    async def run(self) -> None:
        """Connect, receive, and on any failure wait (backoff) and connect to the next endpoint."""
        from websockets.asyncio.client import connect

        connection_class = _connection_class()
        turn = 0
        while True:
            endpoint = self.endpoints[turn % len(self.endpoints)]
            turn += 1
            rewound = None if self.last_us is None else self.last_us - self.rewind_us
            url = subscribe_url(endpoint, self.collections, rewound)
            self.fresh = 0
            try:
                async with connect(
                    url,
                    create_connection=connection_class,
                    open_timeout=self.open_timeout,
                    max_size=MAX_FRAME,
                    max_queue=QUEUE_FRAMES,
                    compression=None,
                    ping_interval=20,
                    ping_timeout=20,
                    close_timeout=1,  # a peer that does not answer our close does not hold up a stop
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
            if self.fresh:
                self.backoff.reset()
            await asyncio.sleep(self.backoff.delay())

    async def _receive(self, ws) -> None:
        """Write the connection's new events until it ends; a watchdog cuts it when it falls silent."""
        import orjson

        skip_us, skip = self.last_us, self.same  # the replay starts with these, already written
        self.last_frame = time.monotonic()
        watchdog = asyncio.create_task(self._watch(ws))
        slack_us = int(FUTURE_SLACK_SECONDS * 1e6)
        latest_us = now_us() + slack_us  # refreshed when an event passes it: one clock read a second, not a frame
        try:
            while True:
                frame = await ws.recv(decode=False)  # bytes as sent: no UTF-8 round trip; orjson checks it
                self.last_frame = time.monotonic()
                try:
                    event = orjson.loads(frame)
                    time_us = event["time_us"]
                except (orjson.JSONDecodeError, KeyError, TypeError, IndexError):
                    self.counters.bad_frames += 1
                    continue
                if time_us.__class__ is not int or not 0 <= time_us <= latest_us:
                    latest_us = now_us() + slack_us  # our clock may have moved on since
                    if time_us.__class__ is not int or not 0 <= time_us <= latest_us:
                        self.counters.bad_frames += 1  # not an integer, or in the future: never the cursor
                        continue
                if self.last_us is not None and time_us <= self.last_us:
                    if time_us < self.last_us or (time_us == skip_us and skip > 0):
                        skip -= time_us == skip_us
                        self.counters.repeats += 1
                        continue
                self._write(event, time_us, frame)
                self.fresh += 1
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
        if event.get("kind") == "commit" and isinstance(commit := event.get("commit"), dict):
            counters.deletes += commit.get("operation") == "delete"
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
    urls = tuple(endpoints or DEFAULT_ENDPOINTS)
    wanted = tuple(collections or DEFAULT_COLLECTIONS)
    for endpoint in urls:
        subscribe_url(endpoint, wanted, None)  # a bad URL fails now, in one line
    positive("--duration", duration)
    if max_events is not None and max_events < 1:
        raise UserError(f"--max-events must be 1 or more, not {max_events}")
    require("websockets")

    async def main() -> dict:
        stopper, counters = Stopper(duration, max_events), Counters()
        listener = JetstreamListener(
            Path(out),
            urls,
            wanted,
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
        check_connected(counters, "listen bluesky")
        return {**counters.result(), "stopped": stopper.reason, "cursor": listener.cursor}

    return asyncio.run(main())
