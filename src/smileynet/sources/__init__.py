"""collect: read post archives, apply the paper's filter -> posts.parquet.

Readers for Twitter API v1.1 (incl. the Archive Team stream grab), Twitter API v2 (twarc2),
Bluesky Jetstream and Mastodon live in `records`; packing (archives, compression) in `inputs`;
the streaming, parallel, resumable driver in `collector`.
"""

from __future__ import annotations

from pathlib import Path


def collect(inputs: list[str | Path], out: str | Path, **opts) -> dict:
    """See `smileynet.sources.collector.collect` (imported lazily to keep `smileynet --help` fast)."""
    from smileynet.sources.collector import collect as run

    return run(inputs, out, **opts)
