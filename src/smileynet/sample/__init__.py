"""sample: temporal sampling and splits -> manifest.parquet + release CSVs.

`temporal` holds the paper's rules (30-day windows, per-emoji cap, balanced splits) on columns;
`release` the official release layout (written and read); `stats` the figures; `manifest` the
driver that reads posts.parquet and writes the dataset folder.
"""

from smileynet.lazy import lazy_exports

_EXPORTS = {"sample": "manifest", "read_release": "release", "write_release": "release", "temporal_sample": "temporal"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
