"""The demo's Jetstream: a `websockets` server on 127.0.0.1 replaying the world's Bluesky events.

It stands in for the public Jetstream while `listen bluesky` runs: events in `time_us` order from
the `cursor` asked for (inclusive), commits only of the `wantedCollections`, and the first
connection cut halfway, so the demo's recording goes through a reconnect and a resume.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from smileynet.errors import UserError


def read_events(path: Path) -> list[tuple[int, str | None, str]]:
    """(time_us, collection of a commit or None, the line) for each event, in time order."""
    import zstandard

    with open(path, "rb") as f:
        text = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read().decode("utf-8")
    events = []
    for line in text.splitlines():
        event = json.loads(line)
        collection = (event.get("commit") or {}).get("collection") if event.get("kind") == "commit" else None
        events.append((event["time_us"], collection, line))
    events.sort(key=lambda e: e[0])  # stable: events of one instant keep their order
    return events


@contextmanager
def serve_jetstream(events_path: Path, port: int) -> Iterator[str]:
    """Serve the events at ws://127.0.0.1:PORT/subscribe for the duration of the block; yields the URL."""
    from websockets.asyncio.server import serve

    events = read_events(events_path)
    connections = 0
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    async def handler(ws) -> None:
        nonlocal connections
        connections += 1
        cut_after = len(events) // 2 if connections == 1 else None  # the one forced disconnect
        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = int(query["cursor"][0]) if "cursor" in query else None
        wanted = set(query.get("wantedCollections", []))
        sent = 0
        for time_us, collection, line in events:
            if (
                cursor is not None
                and time_us < cursor
                or wanted
                and collection is not None
                and collection not in wanted
            ):
                continue
            if sent == cut_after:
                ws.transport.abort()
                return
            await ws.send(line)
            sent += 1
        await ws.wait_closed()  # a live stream does not end: the listener stops on its own rules

    async def main() -> None:
        try:
            async with serve(handler, "127.0.0.1", port, compression=None):
                started.set()
                await stopping
        except OSError as err:
            failure.append(err)
            started.set()

    stopping = loop.create_future()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(30)
    if failure:
        raise UserError(f"cannot serve the demo's Jetstream on 127.0.0.1:{port} ({failure[0]})")
    try:
        yield f"ws://127.0.0.1:{port}/subscribe"
    finally:
        loop.call_soon_threadsafe(stopping.set_result, None)
        thread.join(10)
        loop.close()
