"""Benchmark `listen bluesky` against a loopback Jetstream that sends as fast as it can.

A server process sends N Jetstream-shaped post events (~700 B each). Ceiling: a bare receive
loop of the same client library (`websockets`, same connection options) that only counts
frames. Then `listen_bluesky` (orjson per frame, cursor, zstd hourly files, fsynced commits)
on the same stream. Prints events/s and CPU ms per 1,000 events (this process only; the server
runs in its own), each as a ratio to the ceiling (CPU: ceiling CPU / listen CPU, the figure that
contention on a shared machine disturbs least); then the peak RSS of a fresh listener process
on 1 and 10 minutes of input at `--rate` events/s. Goals: >= 0.8x the ceiling, >= 20,000
events/s, peak memory flat from 1 to 10 minutes.

    python benchmarks/bench_listen.py                  # 200k events, 1 and 10 minutes at 1,000/s
    python benchmarks/bench_listen.py --smoke          # a few seconds: the script still works
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T0_US = 1_733_000_000_000_000
TEXT = "a photo of the sea this morning, the light was something else \U0001f60d\U0001f602 "


def frame(i: int) -> str:
    """A Jetstream post event like the real ones (an image post every other one), `time_us` increasing."""
    embed = (
        ',"embed":{"$type":"app.bsky.embed.images","images":[{"alt":"","aspectRatio":{"height":1536,"width":2048},'
        f'"image":{{"$type":"blob","ref":{{"$link":"bafkreib{i:052d}"}},"mimeType":"image/jpeg","size":412345}}}}]}}'
        if i % 2
        else ""
    )
    return (
        f'{{"did":"did:plc:{i % 99991:024d}","time_us":{T0_US + i * 1000},"kind":"commit","commit":{{'
        f'"rev":"3lb{i:010d}","operation":"create","collection":"app.bsky.feed.post","rkey":"3lb{i:010d}",'
        f'"record":{{"$type":"app.bsky.feed.post","createdAt":"2024-11-30T21:00:00.000Z"{embed},'
        f'"langs":["en"],"text":"{TEXT}{i}"}},"cid":"bafyreib{i:052d}"}}}}'
    )


def serve(port_out, events: int) -> None:
    """The server process: every connection gets `events` frames as fast as the socket takes them."""
    from websockets.asyncio.server import serve as ws_serve
    from websockets.exceptions import ConnectionClosed

    async def handler(ws) -> None:
        try:
            for i in range(events):
                await ws.send(frame(i))
            await ws.wait_closed()
        except ConnectionClosed:  # the client had what it wanted
            pass

    async def main() -> None:
        async with ws_serve(handler, "127.0.0.1", 0, compression=None, max_size=1 << 21) as server:
            port_out.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def start_server(events: int) -> tuple[multiprocessing.process.BaseProcess, str]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=serve, args=(queue, events), daemon=True)
    process.start()
    return process, f"ws://127.0.0.1:{queue.get(timeout=60)}/subscribe"


def bare_receive(url: str, events: int) -> tuple[float, float]:
    """(wall s, CPU s) from connecting to the `events`-th frame, doing nothing with them."""
    from websockets.asyncio.client import connect

    from smileynet.listen.bluesky import MAX_FRAME, QUEUE_FRAMES

    async def main() -> tuple[float, float]:
        count = 0
        wall, cpu = time.perf_counter(), time.process_time()
        async with connect(url, max_size=MAX_FRAME, max_queue=QUEUE_FRAMES, compression=None) as ws:
            while True:
                await ws.recv(decode=False)  # as listen receives: bytes, no UTF-8 decoding
                count += 1
                if count == events:  # timed to the last frame: the closing handshake is not counted
                    return time.perf_counter() - wall, time.process_time() - cpu

    return asyncio.run(main())


def listen(url: str, events: int, out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of a whole `listen_bluesky` call: connect, record, close the files."""
    from smileynet.listen.bluesky import listen_bluesky

    wall, cpu = time.perf_counter(), time.process_time()
    result = listen_bluesky(out, endpoints=[url], max_events=events, quiet=True)
    assert result["events"] == events, result
    return time.perf_counter() - wall, time.process_time() - cpu


def peak_rss_mib(url: str, events: int, out: Path) -> float:
    """Peak RSS of a fresh `smileynet listen bluesky` process recording `events` events."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smileynet",
            "listen",
            "bluesky",
            "--out",
            str(out),
            "--endpoint",
            url,
            "--max-events",
            str(events),
            "--quiet",
        ]
    )
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"listen exited with status {status}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events per throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs; the best is kept")
    parser.add_argument("--rate", type=int, default=1000, help="events/s that make a minute of input (memory runs)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that the script runs")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.repeat, args.rate = 3000, 1, 10
    minutes = {1: args.rate * 60, 10: args.rate * 600}
    server, url = start_server(max(args.events, *minutes.values()))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bare_receive(url, min(args.events, 2000))  # warm-up: imports, the server's first connection
            best = {"bare receive loop (ceiling)": (float("inf"), 0.0), "listen bluesky": (float("inf"), 0.0)}
            for run in range(args.repeat):
                best["bare receive loop (ceiling)"] = min(
                    best["bare receive loop (ceiling)"], bare_receive(url, args.events)
                )
                best["listen bluesky"] = min(best["listen bluesky"], listen(url, args.events, Path(tmp) / f"run{run}"))
            ceiling = args.events / best["bare receive loop (ceiling)"][0]
            print(f"{args.events:,} events per run, best of {args.repeat}; load average {os.getloadavg()[0]:.1f}")
            ceiling_cpu = best["bare receive loop (ceiling)"][1]
            print(f"{'':30} {'events/s':>10} {'vs ceiling':>11} {'CPU ms/1000':>12} {'CPU vs ceiling':>15}")
            for name, (wall, cpu) in best.items():
                rate = args.events / wall
                print(
                    f"{name:30} {rate:>10,.0f} {rate / ceiling:>10.2f}x {cpu / args.events * 1e6:>12.1f} "
                    f"{ceiling_cpu / max(cpu, 1e-9):>14.2f}x"
                )
            peaks = {m: peak_rss_mib(url, n, Path(tmp) / f"memory{m}") for m, n in minutes.items()}
            for m, n in minutes.items():
                print(f"peak RSS, {m:>2} min of input ({n:,} events): {peaks[m]:.1f} MiB")
            print(f"peak RSS 10 min / 1 min: {peaks[10] / peaks[1]:.2f}x")
    finally:
        server.terminate()
        server.join(10)


if __name__ == "__main__":
    main()
