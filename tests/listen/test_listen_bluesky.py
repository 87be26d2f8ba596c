"""listen bluesky against a loopback Jetstream: every event on disk exactly once, whatever breaks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from listen_servers import HostileJetstream, JetstreamServer, jetstream_events, lines_on_disk, replayed

from smileynet.errors import UserError
from smileynet.listen.archive import STATE
from smileynet.listen.bluesky import listen_bluesky, now_us, subscribe_url
from smileynet.listen.common import Backoff

HOUR_END_US = 1_733_004_000_000_000  # 2024-11-30T21:00:00Z: the recordings below cross it
FAST = {"backoff": Backoff(base=0.01, cap=0.05), "commit_seconds": 0.1, "quiet": True, "open_timeout": 2.0}


def events(n: int = 240, seed: int = 0) -> list[dict]:
    return jetstream_events(n, seed, start_us=HOUR_END_US - 30_000_000, step_us=300_000)


def test_subscribe_url_asks_for_collections_and_cursor():
    url = subscribe_url("wss://host/subscribe?compress=false", ("app.bsky.feed.post", "app.bsky.feed.like"), 17)
    assert url == (
        "wss://host/subscribe?compress=false&wantedCollections=app.bsky.feed.post"
        "&wantedCollections=app.bsky.feed.like&cursor=17"
    )


def test_cut_connection_close_frame_and_garbage_lose_nothing(tmp_path):
    stream = events()
    expected = replayed(stream)

    def script(connection: int, sent: int) -> str | None:
        return {(0, 50): "cut", (1, 30): "close", (2, 10): "garbage", (2, 20): "garbage"}.get((connection, sent))

    with JetstreamServer(stream, script) as server:
        result = listen_bluesky(tmp_path, endpoints=[server.url], max_events=len(expected), **FAST)
    assert lines_on_disk(tmp_path) == expected
    assert not list(tmp_path.rglob("*.partial"))
    assert len({p.parent / p.name for p in tmp_path.rglob("*.jsonl.zst")}) == 2  # two hours: 20:xx and 21:xx
    assert result["events"] == len(expected) and result["reconnects"] == 2 and result["bad_frames"] == 4
    assert result["repeats_dropped"] > 0  # the reconnections rewound and the overlap was dropped
    assert result["stopped"] == "max-events"
    assert result["posts_with_images"] == sum('"app.bsky.embed.images"' in line for line in expected)
    assert all(q["wantedCollections"] == ["app.bsky.feed.post"] for q in server.connections)
    assert "cursor" not in server.connections[0] and all("cursor" in q for q in server.connections[1:])


def test_silent_server_is_dropped_and_the_stream_resumes(tmp_path):
    stream = events(120, seed=1)
    expected = replayed(stream)
    with JetstreamServer(
        stream, lambda connection, sent: "silent" if (connection, sent) == (0, 25) else None
    ) as server:
        result = listen_bluesky(tmp_path, endpoints=[server.url], max_events=len(expected), idle_timeout=0.4, **FAST)
    assert lines_on_disk(tmp_path) == expected
    assert result["reconnects"] == 1 and "no data for 0.4 s" in result["last_errors"][0]


def test_fail_over_between_endpoints(tmp_path):
    stream = events(150, seed=2)
    expected = replayed(stream)
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    dead = f"ws://127.0.0.1:{refused.getsockname()[1]}/subscribe"
    with (
        JetstreamServer(stream, lambda connection, sent: "cut" if sent == 40 else None) as first,
        JetstreamServer(stream, lambda connection, sent: "close" if sent == 45 else None) as second,
    ):
        result = listen_bluesky(tmp_path, endpoints=[dead, first.url, second.url], max_events=len(expected), **FAST)
    refused.close()
    assert lines_on_disk(tmp_path) == expected
    assert first.connections and second.connections
    assert any("ConnectionRefusedError" in e for e in result["last_errors"])


def test_restart_resumes_after_the_last_event(tmp_path):
    stream = events(160, seed=3)
    expected = replayed(stream)
    with JetstreamServer(stream) as server:
        first = listen_bluesky(tmp_path, endpoints=[server.url], max_events=70, **FAST)
        assert lines_on_disk(tmp_path) == expected[:70]
        second = listen_bluesky(tmp_path, endpoints=[server.url], max_events=len(expected) - 70, **FAST)
    assert first["events"] == 70 and second["events"] == len(expected) - 70
    assert lines_on_disk(tmp_path) == expected
    assert "cursor" in server.connections[1]


def test_kill_9_and_restart_lose_nothing_and_repeat_nothing(tmp_path):
    stream = events(300, seed=4)
    expected = replayed(stream)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    with JetstreamServer(stream, delay=0.01) as server:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smileynet",
                "listen",
                "bluesky",
                "--out",
                str(tmp_path),
                "--endpoint",
                server.url,
                "--quiet",
            ],
            env=env,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until some events are committed, mid-stream
                state = tmp_path / STATE
                if state.exists() and json.loads(state.read_text())["offset"] > 2000:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the listener committed nothing in 30 s")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        assert list(tmp_path.rglob("*.partial"))  # killed: the hour was left open
        cursor = json.loads((tmp_path / STATE).read_text())["cursor"]
        times = [json.loads(line)["time_us"] for line in expected]
        acknowledged = sum(t < cursor["time_us"] for t in times) + cursor["same"]
        assert 0 < acknowledged < len(expected)
        result = listen_bluesky(tmp_path, endpoints=[server.url], max_events=len(expected) - acknowledged, **FAST)
    assert lines_on_disk(tmp_path) == expected
    assert result["events"] == len(expected) - acknowledged


def test_sigterm_leaves_complete_files(tmp_path):
    stream = events(200, seed=5)
    expected = replayed(stream)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    with JetstreamServer(stream, delay=0.01) as server:
        child = subprocess.Popen(
            [sys.executable, "-m", "smileynet", "listen", "bluesky", "--out", str(tmp_path), "--endpoint", server.url],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not (tmp_path / STATE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=20)
    assert child.returncode == 0, err
    assert "stopped: SIGTERM" in err and "posts with images" in err
    assert not list(tmp_path.rglob("*.partial"))
    on_disk = lines_on_disk(tmp_path)
    assert 0 < len(on_disk) < len(expected) and on_disk == expected[: len(on_disk)]


def test_collect_reads_the_recording_as_it_reads_the_replayed_file(tmp_path):
    from smileynet.collect.collector import collect

    stream = events(200, seed=6)
    expected = replayed(stream)
    recording = tmp_path / "recording"
    with JetstreamServer(stream, lambda connection, sent: "cut" if (connection, sent) == (0, 60) else None) as server:
        listen_bluesky(recording, endpoints=[server.url], max_events=len(expected), **FAST)
    single = tmp_path / "replayed.jsonl"
    single.write_text("\n".join(expected) + "\n")
    from_folder = collect([recording], tmp_path / "a", workers=1, quiet=True)
    from_file = collect([single], tmp_path / "b", workers=1, quiet=True)
    assert from_folder["totals"] == from_file["totals"] and from_folder["totals"]["kept"] > 0
    assert from_folder["totals"]["read"] == len(expected)  # the state file and no .partial were read
    assert pq.read_table(tmp_path / "a" / "posts.parquet").equals(pq.read_table(tmp_path / "b" / "posts.parquet"))


def test_events_stamped_in_the_future_or_of_the_wrong_shape_are_skipped_never_the_cursor(tmp_path):
    stream = events(60, seed=7)
    expected = replayed(stream)
    poison = [
        {**stream[10], "time_us": 2**63 - 1},
        {**stream[10], "time_us": now_us() + 3_600_000_000},  # an hour ahead of our clock
        {**stream[10], "time_us": -5},
        {**stream[10], "time_us": "1733000000000000"},
        {**stream[10], "time_us": 1.5e15},
    ]
    wrong_types = {**stream[11], "commit": {**stream[11]["commit"], "record": ["not", "a", "record"]}}
    hostile = stream[:11] + poison + [wrong_types] + stream[12:]
    with JetstreamServer(hostile, lambda connection, sent: "cut" if (connection, sent) == (0, 30) else None) as server:
        result = listen_bluesky(tmp_path, endpoints=[server.url], max_events=len(expected), **FAST)
    on_disk = lines_on_disk(tmp_path)
    assert [json.loads(line) for line in on_disk] == [
        json.loads(line) for line in replayed(stream[:11] + [wrong_types] + stream[12:])
    ]
    # all five on the first connection; the second (from the cursor, rewound) gets the three not below it
    assert result["bad_frames"] == len(poison) + 3
    assert result["cursor"]["time_us"] == stream[-1]["time_us"]


def test_a_poisoned_state_is_one_line_error(tmp_path):
    for cursor in [{"time_us": 2**63 - 1, "same": 1}, {"time_us": "soon", "same": 1}, {"time_us": 5, "same": -1}, 7]:
        (tmp_path / STATE).write_text(json.dumps({"kind": "bluesky", "cursor": cursor, "file": None, "offset": 0}))
        with pytest.raises(UserError, match="not a Jetstream time in the past"):
            listen_bluesky(tmp_path, endpoints=["ws://127.0.0.1:9/subscribe"], duration=1, **FAST)
    (tmp_path / STATE).write_bytes(b"\xff\xfe garbage")
    with pytest.raises(UserError, match="is not JSON"):
        listen_bluesky(tmp_path, endpoints=["ws://127.0.0.1:9/subscribe"], duration=1, **FAST)


def test_no_endpoint_ever_connecting_is_an_error_that_says_why(tmp_path, capsys):
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    with refused, pytest.raises(UserError, match="never connected.*ConnectionRefusedError"):
        listen_bluesky(tmp_path, endpoints=[f"ws://127.0.0.1:{refused.getsockname()[1]}/subscribe"], duration=1, **FAST)
    assert "ConnectionRefusedError" in capsys.readouterr().err


def test_one_junk_frame_does_not_reset_the_backoff(tmp_path):
    runs = {}
    for behaviour in ("one junk frame", "close"):
        backoff = Backoff(base=0.02, cap=0.2)
        with HostileJetstream(behaviour) as server:
            result = listen_bluesky(
                tmp_path / behaviour, endpoints=[server.url], duration=2, **{**FAST, "backoff": backoff}
            )
        runs[behaviour] = (server.connections, backoff.failures, result)
    (junk_connections, junk_failures, junk), (closed_connections, _, _) = runs["one junk frame"], runs["close"]
    assert junk_connections - 1 <= junk["bad_frames"] <= junk_connections and junk["events"] == 0, runs
    assert junk_failures >= junk_connections - 1, runs  # never reset: every failure made the next wait longer
    assert junk_connections <= 2 * closed_connections + 5, runs  # (a reset after each frame gives ~10x more)


def test_memory_stays_flat_under_a_half_frame(tmp_path):
    with HostileJetstream("half frame") as server:
        tracemalloc.start()
        try:
            result = listen_bluesky(tmp_path, endpoints=[server.url], duration=3, idle_timeout=0.5, **FAST)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert server.connections >= 2 and result["events"] == 0  # cut, and tried again
    assert any("no data for 0.5 s" in error for error in result["last_errors"]), result["last_errors"]
    assert peak < 16 << 20, f"{peak / 2**20:.1f} MiB held after {server.sent / 2**20:.0f} MiB sent"


GROWTH = """
import json, sys
from smileynet.listen.bluesky import listen_bluesky
from smileynet.listen.common import Backoff

def kib(key):
    return int(next(line for line in open("/proc/self/status") if line.startswith(key)).split()[1])

before = kib("VmRSS:")
result = listen_bluesky(sys.argv[1], endpoints=[sys.argv[2]], duration=3, idle_timeout=30, quiet=True,
                        backoff=Backoff(base=0.02, cap=0.2))
print(json.dumps({"growth_mib": (kib("VmHWM:") - before) / 1024, "errors": result["last_errors"]}))
"""


def test_memory_stays_flat_under_a_ping_flood(tmp_path):
    """In a fresh process (tracemalloc would slow the flood down to a trickle): peak RSS over the RSS
    after imports, while the peer sends pings as fast as it can and never reads the pongs."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    with HostileJetstream("ping flood") as server:
        child = subprocess.run(
            [sys.executable, "-c", GROWTH, str(tmp_path), server.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert child.returncode == 0, child.stderr[-2000:]
    measured = json.loads(child.stdout)
    assert server.sent > 12 << 20 and server.connections >= 2, (server.sent, server.connections)
    assert any("the peer does not read our replies" in error for error in measured["errors"]), measured
    assert measured["growth_mib"] < 16, f"{measured['growth_mib']:.1f} MiB after {server.sent / 2**20:.0f} MiB of pings"
