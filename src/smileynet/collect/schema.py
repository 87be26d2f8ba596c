"""The columns of collect's sorted runs: posts.parquet's (`contracts.posts_schema`) and what the
runs add (kept in one place: the task writes them, the merge reads them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smileynet.contracts import DROP_REASONS, posts_schema

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DROP_REASONS", "by_key_schema", "gone_schema", "notice_schema", "posts_schema", "run_schema"]


def run_schema() -> pa.Schema:
    """A sorted run of candidates: the posts columns, where the row sits (`input`, `seq`), its delete
    key, and for an edited post's version its `edited` time (integer microseconds, 0: never edited)
    and, when it fails the filter, its drop `reason` (null for a candidate)."""
    import pyarrow as pa

    return (
        posts_schema()
        .append(pa.field("input", pa.int32()))
        .append(pa.field("seq", pa.int64()))
        .append(pa.field("delete_key", pa.string()))
        .append(pa.field("edited", pa.int64()))
        .append(pa.field("reason", pa.string()))
    )


def notice_schema() -> pa.Schema:
    """A sorted run of delete notices: the keys they name."""
    import pyarrow as pa

    return pa.schema([("key", pa.string())])


def by_key_schema() -> pa.Schema:
    """Candidates re-sorted by delete key, then when and which post: one side of the deletion join."""
    import pyarrow as pa

    return pa.schema([("delete_key", pa.string()), ("created_at", pa.int64()), ("post_id", pa.string())])


def gone_schema() -> pa.Schema:
    """The candidates a delete notice names, in time order."""
    import pyarrow as pa

    return pa.schema([("created_at", pa.int64()), ("post_id", pa.string())])
