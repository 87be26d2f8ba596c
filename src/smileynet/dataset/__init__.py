"""sample: temporal sampling and splits -> manifest.parquet + release CSVs.

`sampling` holds the paper's rules (windows, per-emoji cap, balanced splits) on columns;
`release` the official release layout (written and read); `stats` the figures; `sampler` the driver.
"""

from __future__ import annotations

from pathlib import Path


def sample(posts: str | Path | None, out: str | Path, **opts) -> dict:
    """See `smileynet.dataset.sampler.sample` (imported lazily to keep `smileynet --help` fast)."""
    from smileynet.dataset.sampler import sample as run

    return run(posts, out, **opts)


def read_release(folder: str | Path):
    """A release-layout folder -> `Release(vocab, manifest)`; see `smileynet.dataset.release`."""
    from smileynet.dataset.release import read_release as read

    return read(folder)
