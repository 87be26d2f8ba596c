"""collect's merge: the tasks' sorted runs -> posts.parquet and the report's counts.

A k-way merge of at most `MERGE_FANIN` runs at a time, holding one small row group per run,
applies the vocabulary, keeps the latest version of an edited post (Mastodon `edited_at`; its
versions share the post's time, so they are neighbours too), drops duplicate post ids (same id ->
same time -> neighbours in (created_at, post_id) order), drops the posts that a delete notice
anywhere in the inputs names: a sort-merge join on disk (`deleted_candidates`) that holds no set
of ids, and drops posts flagged sensitive unless asked to keep them. The tasks write their runs
with `write_run` / `write_deletes`, in the order `run_order`.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smileynet.collect.schema import (
    DROP_REASONS,
    by_key_schema,
    gone_schema,
    notice_schema,
    posts_schema,
    run_schema,
)
from smileynet.contracts import POSTS_FILE
from smileynet.errors import UserError
from smileynet.vocab import Vocabulary

if TYPE_CHECKING:
    import pyarrow as pa

RUN_ROWS = 50_000
MERGE_ROWS = 256  # a run's row group: the merge holds one per run, not whole runs
MERGE_FANIN = 64  # runs open at once: more (a month of thousands of tasks) are first merged in groups
ROW_GROUP = 16_384  # rows of posts.parquet held (as Python rows) before they are written: bounds the merge

Row = dict[str, Any]


def run_order(row: Row) -> tuple:
    """The order of a run's rows: (time, id) first, so the copies and versions of a post are
    neighbours (an edit keeps the post's `created_at`), its latest version first; then where each
    sits, a total order that makes the output independent of how the work was split."""
    return row["created_at"], row["post_id"], -row["edited"], row["input"], row["seq"]


def _by_key(row: Row) -> str:
    return row["key"]


def _by_delete_key(row: Row) -> str:
    return row["delete_key"]


def _by_time(row: Row) -> tuple:
    return row["created_at"], row["post_id"]


def write_run(rows: list[Row], parts: Path, key: str, number: int) -> str:
    """A task's candidates, sorted, as run `number` of task `key`; empties `rows`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows.sort(key=run_order)
    name = f"{key}.{number:04d}.parquet"
    tmp = parts / f".{name}.tmp"
    pq.write_table(pa.Table.from_pylist(rows, schema=run_schema()), tmp, row_group_size=MERGE_ROWS)
    os.replace(tmp, parts / name)
    rows.clear()
    return name


def write_deletes(keys: list[str], parts: Path, key: str, number: int) -> str:
    """A task's delete notices, sorted and distinct, as notice run `number` of task `key`; empties `keys`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = f"{key}.deletes.{number:04d}.parquet"
    tmp = parts / f".{name}.tmp"
    pq.write_table(pa.table({"key": sorted(set(keys))}, schema=notice_schema()), tmp, row_group_size=MERGE_ROWS)
    os.replace(tmp, parts / name)
    keys.clear()
    return name


def _fewer_runs(
    runs: list[Path],
    parts: Path,
    order: Callable[[Row], Any] = run_order,
    schema: pa.Schema | None = None,
    name: str = "merge",
    most: int | None = None,
) -> list[Path]:
    """Merge groups of `MERGE_FANIN` runs into longer runs until at most `most` (default: that many) are
    left: open files and rows held stay bounded however many tasks a collect has. (time, id, input,
    seq) is a total order, so the final merge gives the same rows in the same order as one over all runs."""
    fanin, level = MERGE_FANIN, 0
    while len(runs) > (most or fanin):
        merged = []
        for start in range(0, len(runs), fanin):
            path = parts / f"{name}-{level}-{start // fanin:05d}.parquet"
            _write_rows(
                path,
                heapq.merge(*map(_batches, runs[start : start + fanin]), key=order),
                schema or run_schema(),
                MERGE_ROWS,
            )
            merged.append(path)
        runs, level = merged, level + 1
    return runs


def _merged(
    runs: list[Path], parts: Path, order: Callable[[Row], Any], schema: pa.Schema, name: str, most: int | None = None
) -> Iterator[Row]:
    """The rows of sorted `runs`, in `order`, with at most `most` (default `MERGE_FANIN`) files open."""
    return heapq.merge(*map(_batches, _fewer_runs(runs, parts, order, schema, name, most)), key=order)


def deleted_candidates(reports: list[dict], parts: Path) -> Iterator[tuple] | None:
    """(created_at, post_id) of every candidate that a delete notice names, in time order.

    A sort-merge join that holds no set of ids: candidates re-sorted by delete key (run by run)
    meet the sorted delete notices; the matches are sorted back into time order as runs, which
    the final merge walks beside the candidates (an anti-join). Each side of a merge gets one
    file, the other `MERGE_FANIN - 1`: never more runs open than without deletions. Without
    delete notices: None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    notices = [parts / run for r in reports for run in r.get("deletes", [])]
    if not notices:
        return None
    key_schema = by_key_schema()
    by_key = []
    for report in reports:
        for run in report["runs"]:
            table = pq.read_table(parts / run, columns=key_schema.names).select(key_schema.names)
            table = table.set_column(1, "created_at", table.column(1).cast(pa.int64())).sort_by("delete_key")
            path = parts / f"{run}.bykey.parquet"
            pq.write_table(table.cast(key_schema), path, row_group_size=MERGE_ROWS)
            by_key.append(path)
    keys = (row["key"] for row in _merged(notices, parts, _by_key, notice_schema(), "deletes", most=1))
    candidates = _merged(by_key, parts, _by_delete_key, key_schema, "bykey", most=MERGE_FANIN - 1)
    matches: list[Row] = []
    gone: list[Path] = []
    key = next(keys, None)
    for row in candidates:
        while key is not None and key < row["delete_key"]:
            key = next(keys, None)
        if key is None:
            break
        if key == row["delete_key"]:
            matches.append({"created_at": row["created_at"], "post_id": row["post_id"]})
            if len(matches) >= RUN_ROWS:
                gone.append(_write_gone(matches, parts, len(gone)))
    if matches:
        gone.append(_write_gone(matches, parts, len(gone)))
    return (_by_time(row) for row in _merged(gone, parts, _by_time, gone_schema(), "gone", most=1))


def _write_gone(matches: list[Row], parts: Path, number: int) -> Path:
    matches.sort(key=_by_time)
    path = parts / f"gone-{number:05d}.parquet"
    _write_rows(path, matches, gone_schema(), MERGE_ROWS)
    matches.clear()
    return path


def _write_rows(path: Path, rows: Iterable[Row], schema: pa.Schema, group: int) -> None:
    """Rows to a parquet file, `group` at a time (one row group each): never all of them in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = iter(rows)
    with pq.ParquetWriter(path, schema) as writer:
        while batch := list(islice(rows, group)):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))


def emoji_counts(parts: Path, reports: list[dict]) -> Counter[str]:
    """How often each emoji occurs in the candidates: what a top:N vocabulary is drawn from."""
    import pyarrow.parquet as pq

    counts: Counter[str] = Counter()
    for report in reports:
        for run in report["runs"]:
            for emojis in pq.read_table(parts / run, columns=["emojis"]).column("emojis").to_pylist():
                counts.update(emojis)
    if not counts:
        raise UserError("vocabulary top:N: no post with a photo and 1 to 5 emojis was found")
    return counts


def _batches(path: Path) -> Iterator[Row]:
    """A run's rows, `created_at` as integer microseconds: the same order and equality, and
    `to_pylist` makes a time-zoned datetime per row slowly; the writer takes the integers back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # memory: one row group per run (pre-buffering reads ahead: ~1.6 MiB more per open run)
    for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=MERGE_ROWS):
        at = batch.schema.get_field_index("created_at")
        if at >= 0 and batch.schema.field(at).type != pa.int64():
            batch = batch.set_column(at, "created_at", batch.column(at).cast(pa.int64()))
        yield from batch.to_pylist()


def merge(
    reports: list[dict], files: list[Path], parts: Path, out: Path, vocabulary: Vocabulary, keep_sensitive: bool = False
) -> dict:
    """Merge the tasks' runs into `out/posts.parquet`; the report's `totals`, `files` and `malformed`.
    Posts flagged sensitive are dropped unless `keep_sensitive`."""
    per_file: dict[str, dict[str, Any]] = {
        str(f): {"read": 0, "kept": 0, "dropped": dict.fromkeys(DROP_REASONS, 0), "malformed": []} for f in files
    }
    for report in reports:
        entry = per_file[str(files[report["index"]])]
        for reason, n in report["counts"].items():
            if reason == "read":
                entry["read"] += n
            else:
                entry["dropped"][reason] += n
        entry["malformed"].extend(report["malformed"])
    entries = [per_file[str(f)] for f in files]  # by input index

    def kept(rows: Iterator[Row], deleted: Iterator[tuple]) -> Iterator[Row]:
        """The vocabulary, deletion, sensitivity and duplicate rules, counted per input as the rows
        stream by; `deleted` is in the rows' order, so one look at its head decides each row.

        A post's rows come latest version first. When the latest version of an edited post is
        dropped, its earlier versions that passed the filter are dropped for the same reason;
        a version that failed the filter (`reason`) counts for its own rule."""
        previous = None  # (time, id) of the last row kept
        post = None  # (time, id) of the row before: a new one starts a post, at its latest version
        fate = None  # why the post's latest version, an edit, was dropped
        gone = next(deleted, None)
        for row in rows:
            entry = entries[row["input"]]
            at = row["created_at"], row["post_id"]
            latest = at != post
            if latest:
                post, fate = at, None
            reason = row["reason"] or fate
            if not reason:
                emojis = [e for e in row["emojis"] if e in vocabulary]
                while emojis and gone is not None and gone < at:
                    gone = next(deleted, None)
                if not emojis:
                    reason = "no_smiley"
                elif gone == at:
                    reason = "deleted"
                elif row["sensitive"] and not keep_sensitive:
                    reason = "sensitive"
                elif at == previous:
                    reason = "duplicate"
            if reason:
                entry["dropped"][reason] += 1
                if latest and row["edited"]:
                    fate = reason
                continue
            previous = at
            row["emojis"] = emojis
            entry["kept"] += 1
            yield row

    deleted = deleted_candidates(reports, parts)
    runs = _fewer_runs(
        [parts / run for r in reports for run in r["runs"]],
        parts,
        most=MERGE_FANIN if deleted is None else MERGE_FANIN - 1,
    )
    tmp = out / ".posts.parquet.tmp"
    _write_rows(
        tmp, kept(heapq.merge(*map(_batches, runs), key=run_order), deleted or iter(())), posts_schema(), ROW_GROUP
    )
    os.replace(tmp, out / POSTS_FILE)
    totals: dict[str, Any] = {"read": 0, "kept": 0, "dropped": dict.fromkeys(DROP_REASONS, 0)}
    listed: list[dict] = []
    for path, entry in per_file.items():
        totals["read"] += entry["read"]
        totals["kept"] += entry["kept"]
        for reason, n in entry["dropped"].items():
            totals["dropped"][reason] += n
        listed.extend({"file": path, **m} for m in entry["malformed"])
    return {"totals": totals, "vocabulary_size": len(vocabulary), "files": per_file, "malformed": listed[:1000]}
