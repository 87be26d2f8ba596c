"""collect: read post archives, apply the post filter (the paper's rules and ours) -> posts.parquet.

`archives` unpacks inputs (folders, tar/zip, bz2/gz/zst) into blocks of JSON lines; `records` tells
each record's source and hands it to its reader (`twitter_v1`, `twitter_v2`, `bluesky`,
`mastodon`), which yields normalised `post.Post`s; `filter` applies the paper's rules. `collector`
is the streaming, parallel, resumable driver that writes posts.parquet and collect_report.json:
`task` runs one file (read, filter, write sorted runs), `runner` runs the tasks (inline, local
processes, Dask), `merge` joins the runs (vocabulary, duplicates, deletions); `schema` holds the
drop reasons and the columns.
"""

from typing import TYPE_CHECKING

from smileynet.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, spelled out for type checkers
    from smileynet.collect.collector import collect as collect
    from smileynet.collect.filter import drop_reason as drop_reason
    from smileynet.collect.records import parse_record as parse_record
    from smileynet.collect.schema import DROP_REASONS as DROP_REASONS

_EXPORTS = {"collect": "collector", "DROP_REASONS": "schema", "parse_record": "records", "drop_reason": "filter"}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
