"""sample: temporal sampling and splits -> manifest.parquet + release CSVs.

`temporal` holds the paper's rules (30-day windows, per-emoji cap, balanced splits) on columns;
`release` the official release layout (written and read); `stats` the figures; `manifest` the
driver that reads posts.parquet and writes the dataset folder.
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.sample.manifest import sample as sample
    from smileynet.sample.release import read_release as read_release
    from smileynet.sample.release import write_release as write_release
    from smileynet.sample.temporal import temporal_sample as temporal_sample

_EXPORTS = {"sample": "manifest", "read_release": "release", "write_release": "release", "temporal_sample": "temporal"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
