"""What collect writes: the drop reasons of collect_report.json and the columns of posts.parquet,
with the columns its sorted runs add (kept in one place: the task writes them, the merge reads them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

DROP_REASONS = (
    "no_image",
    "no_smiley",
    "too_many_emojis",
    "has_url",
    "has_hashtag",
    "has_mention",
    "is_reply",
    "is_quote",
    "is_retweet",
    "not_a_post",
    "malformed",
    "duplicate",
    "deleted",
    "sensitive",
)


def posts_schema() -> pa.Schema:
    """The columns of posts.parquet."""
    import pyarrow as pa

    return pa.schema(
        [
            ("post_id", pa.string()),
            ("source", pa.string()),
            ("created_at", pa.timestamp("us", tz="UTC")),
            ("text", pa.string()),
            ("emojis", pa.list_(pa.string())),
            ("image_urls", pa.list_(pa.string())),
            ("alt_texts", pa.list_(pa.string())),
            ("author_id", pa.string()),
            ("lang", pa.string()),
            ("sensitive", pa.bool_()),
        ]
    )


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
