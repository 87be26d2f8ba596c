"""The demo's loopback Jetstream: `listen bluesky` records every world event once, through the forced cut."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import zstandard

from smileynet.demo.image_host import free_port
from smileynet.demo.jetstream_host import serve_jetstream
from smileynet.listen.bluesky import listen_bluesky
from smileynet.listen.common import Backoff

sys.path.insert(0, str(Path(__file__).parents[1] / "listen"))
from listen_servers import jetstream_events, lines_on_disk


def test_listen_records_the_world_through_the_forced_disconnect(tmp_path):
    events = jetstream_events(120, seed=9)
    shuffled = events[:]
    random.Random(1).shuffle(shuffled)  # the world's file is in post order; the host serves time order
    source = tmp_path / "events.jsonl.zst"
    source.write_bytes(zstandard.ZstdCompressor().compress("\n".join(json.dumps(e) for e in shuffled).encode()))
    port = free_port()
    with serve_jetstream(source, port) as url:
        result = listen_bluesky(
            tmp_path / "rec",
            endpoints=[url],
            max_events=len(events),
            quiet=True,
            collections=["app.bsky.feed.post", "app.bsky.feed.like"],
            backoff=Backoff(base=0.01, cap=0.05),
            commit_seconds=0.1,
        )
    recorded = [json.loads(line) for line in lines_on_disk(tmp_path / "rec")]
    assert sorted(recorded, key=json.dumps) == sorted(events, key=json.dumps)
    assert [e["time_us"] for e in recorded] == sorted(e["time_us"] for e in events)
    assert result["reconnects"] == 1 and result["repeats_dropped"] > 0
