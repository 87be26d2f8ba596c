"""collect: archives -> the posts the filter passes, streaming, parallel, resumable.

Work is split into tasks (a file, or a group of members of a big archive). Each task streams its
lines, applies the filter, and writes its candidate posts as sorted parquet runs of at most
`RUN_ROWS` rows plus a small JSON report into `OUT/.parts/`; the driver appends the task to
`.parts/done.txt`. With `resume=True` finished tasks are not redone. The final step merges the
sorted runs (a k-way merge of at most `MERGE_FANIN` runs at a time, holding one small row group
per run), applies the vocabulary, drops duplicate post ids (same id -> same time -> neighbours
in (created_at, post_id) order), drops the posts that a delete notice anywhere in the inputs
names (a sort-merge join on disk, see `_deleted_candidates`) and writes `posts.parquet` in row groups. The output depends
only on the inputs, never on the worker count, the scheduler, or interruptions. On a Dask
cluster the inputs and OUT must be on a filesystem every worker sees (the part files are
written by the workers).

Counting: every record read ends as kept or as exactly one drop reason (the first rule it
breaks, cheap rules first; see `filter.drop_reason`). `no_smiley` covers posts with no emoji
and posts whose emojis are all outside the vocabulary; `duplicate` counts repeats of a post that
would otherwise be kept, charged to the input where the later copy sits; `deleted` counts posts
that would otherwise be kept and whose delete notice is in the inputs, charged where the post sits
(the notice itself is a `not_a_post` where it sits).
"""

from __future__ import annotations

import heapq
import json
import os
import select
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from smileynet.collect.archives import (
    MAX_LINE,
    TASK_BYTES,
    Task,
    expand_inputs,
    iter_blocks,
    make_tasks,
)
from smileynet.collect.bluesky import DEFAULT_BLUESKY_CDN
from smileynet.collect.filter import drop_reason
from smileynet.collect.post import Deletion, Malformed, Post, delete_key, parse_time
from smileynet.collect.records import SOURCES, parse_record
from smileynet.contracts import CATEGORIES_FILE, COLLECT_REPORT_FILE, DROP_REASONS, POSTS_FILE, posts_schema
from smileynet.errors import UserError
from smileynet.files import write_config, write_json
from smileynet.progress import progress
from smileynet.vocab import Vocabulary, load_vocabulary, parse_top_spec

RUN_ROWS = 50_000
MERGE_ROWS = 256  # a run's row group: the merge holds one per run, not whole runs
MERGE_FANIN = 64  # runs open at once: more (a month of thousands of tasks) are first merged in groups
ROW_GROUP = 16_384  # rows of posts.parquet held (as Python rows) before they are written: bounds the merge
MAX_MALFORMED_LISTED = 100  # per task; the count is always complete
PARTS = ".parts"
OUTPUTS = (POSTS_FILE, COLLECT_REPORT_FILE, CATEGORIES_FILE, "config.yaml")  # what collect writes in OUT


def _schemas():
    import pyarrow as pa

    posts = posts_schema()
    parts = (
        posts.append(pa.field("input", pa.int32()))
        .append(pa.field("seq", pa.int64()))
        .append(pa.field("delete_key", pa.string()))
    )
    return posts, parts


def _key_schemas():
    """Delete notices (`key`), and candidates by delete key (`delete_key`, then when and which post)."""
    import pyarrow as pa

    notices = pa.schema([("key", pa.string())])
    candidates = pa.schema([("delete_key", pa.string()), ("created_at", pa.int64()), ("post_id", pa.string())])
    return notices, candidates


def _by_key(row: dict) -> str:
    return row["key"]


def _by_delete_key(row: dict) -> str:
    return row["delete_key"]


def _by_time(row: dict) -> tuple:
    return row["created_at"], row["post_id"]


def _order(row: dict) -> tuple:
    return row["created_at"], row["post_id"], row["input"], row["seq"]


BAD_DATA = (KeyError, TypeError, ValueError, AttributeError, IndexError)  # what a record of the wrong shape raises


def collect_task(
    task: Task,
    parts_dir: str,
    source: str = "auto",
    cdn: str = DEFAULT_BLUESKY_CDN,
    run_rows: int = RUN_ROWS,
    max_line: int = MAX_LINE,
) -> dict:
    """Filter one task's records; write its candidates as sorted runs and its report. Never raises
    for bad data: every unreadable line or record is counted as malformed with where it was."""
    import orjson

    parts = Path(parts_dir)
    for stale in parts.glob(f"{task.key}.*"):
        stale.unlink()
    group = int(task.key.split("-")[1])
    counts = dict.fromkeys(("read", *DROP_REASONS), 0)  # a plain dict, not a Counter: updated once per record
    malformed: list[dict] = []
    rows: list[dict] = []
    runs: list[str] = []
    deletes: list[str] = []  # keys of delete notices, written as sorted runs beside the candidates
    delete_runs: list[str] = []
    seq = group << 40  # a record's place in the input, for a stable order of equal (time, id)

    def bad(member: str, number: int, error: str) -> None:
        counts["read"] += 1
        counts["malformed"] += 1
        if len(malformed) < MAX_MALFORMED_LISTED:
            malformed.append({"member": member, "line": number, "error": error[:200]})

    for member, first, lines, error in iter_blocks(task, max_line):
        for number, line in enumerate(lines, first):
            if not line or line.isspace():
                continue
            seq += 1
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as err:
                bad(member, number, f"JSON: {err}")
                continue
            try:
                for post in parse_record(obj, source, cdn):
                    if isinstance(post, str):  # most records: a reason known before a Post is built
                        counts["read"] += 1
                        counts[post] += 1
                    elif isinstance(post, Deletion):
                        counts["read"] += 1
                        counts["not_a_post"] += 1
                        deletes.append(post.key)
                        if len(deletes) >= run_rows:
                            delete_runs.append(_write_deletes(deletes, parts, task.key, len(delete_runs)))
                    elif isinstance(post, Malformed):
                        bad(member, number, f"Malformed: {post}")
                    else:
                        try:  # one post of a page may be broken (an unreadable time): the others go on
                            reason = drop_reason(post)
                            row = {} if reason else _row(post, task.index, seq)
                        except BAD_DATA as err:
                            bad(member, number, f"{type(err).__name__}: {err}")
                            continue
                        counts["read"] += 1
                        if reason:
                            counts[reason] += 1
                            continue
                        rows.append(row)
                        if len(rows) >= run_rows:
                            runs.append(_write_run(rows, parts, task.key, len(runs)))
            except (Malformed, *BAD_DATA) as err:
                bad(member, number, f"{type(err).__name__}: {err}")
        if error is not None:
            bad(member, first + len(lines), str(error))
    if rows:
        runs.append(_write_run(rows, parts, task.key, len(runs)))
    if deletes:
        delete_runs.append(_write_deletes(deletes, parts, task.key, len(delete_runs)))
    report = {
        "key": task.key,
        "index": task.index,
        "path": task.path,
        "counts": dict(counts),
        "malformed": malformed,
        "runs": runs,
        "deletes": delete_runs,
    }
    write_json(parts / f"{task.key}.json", report)
    return report


def _row(post: Post, index: int, seq: int) -> dict:
    """A kept candidate as a parquet row; a field of the wrong JSON type (a list for `lang`) raises
    TypeError here, counted as malformed, instead of failing the whole run's write later."""
    texts = (post.post_id, post.text, post.author_id, *post.image_urls, *([] if post.lang is None else [post.lang]))
    if not all(isinstance(value, str) for value in texts):
        raise TypeError("a text field holds another JSON type")
    return {
        "post_id": post.post_id,
        "source": post.source,
        "created_at": parse_time(post.created),
        "text": post.text,
        "emojis": post.emojis,
        "image_urls": post.image_urls,
        "author_id": post.author_id,
        "lang": post.lang,
        "input": index,
        "seq": seq,
        "delete_key": delete_key(post),
    }


def _write_run(rows: list[dict], parts: Path, key: str, number: int) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows.sort(key=_order)
    name = f"{key}.{number:04d}.parquet"
    tmp = parts / f".{name}.tmp"
    pq.write_table(pa.Table.from_pylist(rows, schema=_schemas()[1]), tmp, row_group_size=MERGE_ROWS)
    os.replace(tmp, parts / name)
    rows.clear()
    return name


def _write_deletes(keys: list[str], parts: Path, key: str, number: int) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = f"{key}.deletes.{number:04d}.parquet"
    tmp = parts / f".{name}.tmp"
    pq.write_table(pa.table({"key": sorted(set(keys))}, schema=_key_schemas()[0]), tmp, row_group_size=MERGE_ROWS)
    os.replace(tmp, parts / name)
    keys.clear()
    return name


def _fewer_runs(
    runs: list[Path], parts: Path, order=_order, schema=None, name: str = "merge", most: int | None = None
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
                schema or _schemas()[1],
                MERGE_ROWS,
            )
            merged.append(path)
        runs, level = merged, level + 1
    return runs


def _merged(runs: list[Path], parts: Path, order, schema, name: str, most: int | None = None) -> Iterator[dict]:
    """The rows of sorted `runs`, in `order`, with at most `most` (default `MERGE_FANIN`) files open."""
    return heapq.merge(*map(_batches, _fewer_runs(runs, parts, order, schema, name, most)), key=order)


def _deleted_candidates(reports: list[dict], parts: Path) -> Iterator[tuple] | None:
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
    notice_schema, key_schema = _key_schemas()
    by_key = []
    for report in reports:
        for run in report["runs"]:
            table = pq.read_table(parts / run, columns=key_schema.names).select(key_schema.names)
            table = table.set_column(1, "created_at", table.column(1).cast(pa.int64())).sort_by("delete_key")
            path = parts / f"{run}.bykey.parquet"
            pq.write_table(table.cast(key_schema), path, row_group_size=MERGE_ROWS)
            by_key.append(path)
    keys = (row["key"] for row in _merged(notices, parts, _by_key, notice_schema, "deletes", most=1))
    candidates = _merged(by_key, parts, _by_delete_key, key_schema, "bykey", most=MERGE_FANIN - 1)
    matches: list[dict] = []
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
    return (_by_time(row) for row in _merged(gone, parts, _by_time, _gone_schema(), "gone", most=1))


def _gone_schema():
    import pyarrow as pa

    return pa.schema([("created_at", pa.int64()), ("post_id", pa.string())])


def _write_gone(matches: list[dict], parts: Path, number: int) -> Path:
    matches.sort(key=_by_time)
    path = parts / f"gone-{number:05d}.parquet"
    _write_rows(path, matches, _gone_schema(), MERGE_ROWS)
    matches.clear()
    return path


def _write_rows(path: Path, rows: Iterable[dict], schema, group: int) -> None:
    """Rows to a parquet file, `group` at a time (one row group each): never all of them in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = iter(rows)
    with pq.ParquetWriter(path, schema) as writer:
        while batch := list(islice(rows, group)):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))


def collect(
    inputs: list[str | Path],
    out: str | Path,
    *,
    source: str = "auto",
    vocab: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    bluesky_cdn: str = DEFAULT_BLUESKY_CDN,
    quiet: bool = False,
    seed: int = 0,
    task_bytes: int = TASK_BYTES,
    run_rows: int = RUN_ROWS,
    max_line: int = MAX_LINE,
) -> dict:
    """Collect the posts the filter passes from `inputs` into `out/posts.parquet`; returns the report
    (also written to `out/collect_report.json`). `vocab`: None/"default", a file, or "top:N".

    With `workers` > 1 the workers are forkserver processes, which import the calling script
    again: a script calling this needs the usual `if __name__ == "__main__":` guard."""
    if source != "auto" and source not in SOURCES:
        raise UserError(f"unknown source {source!r}: expected auto, {', '.join(SOURCES)}")
    if max_line < 1:
        raise UserError(f"--max-line-bytes must be at least 1, got {max_line}")
    top = parse_top_spec(vocab)
    fixed = None if top is not None else load_vocabulary(vocab)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    files = expand_inputs(inputs, outputs=tuple(out / name for name in OUTPUTS))
    tasks = make_tasks(files, task_bytes)
    parts = out / PARTS
    if not resume and parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    done_file = parts / "done.txt"
    done = set(done_file.read_text().split()) if done_file.exists() else set()
    todo = [t for t in tasks if t.key not in done or not (parts / f"{t.key}.json").exists()]
    job = partial(
        collect_task, parts_dir=str(parts), source=source, cdn=bluesky_cdn, run_rows=run_rows, max_line=max_line
    )
    for finished in progress(
        _run(job, todo, workers, scheduler), total=len(todo), desc="collect", unit="task", quiet=quiet
    ):
        with open(done_file, "a") as f:
            f.write(finished["key"] + "\n")
            f.flush()
            os.fsync(f.fileno())
    reports = [json.loads((parts / f"{t.key}.json").read_text()) for t in tasks]
    if fixed is not None:
        vocabulary = fixed
    elif top is not None:
        vocabulary = Vocabulary.top_n(_emoji_counts(parts, reports), top)
    report = _merge(reports, files, parts, out, vocabulary)
    report.update(resumed_tasks=len(tasks) - len(todo), tasks=len(tasks))
    write_json(out / COLLECT_REPORT_FILE, report)
    vocabulary.write_categories_csv(out / "categories.csv")
    write_config(
        out / "config.yaml",
        {
            "command": "collect",
            "inputs": [str(f) for f in files],
            "source": source,
            "vocab": vocab or "default",
            "workers": workers,
            "scheduler": scheduler,
            "bluesky_cdn": bluesky_cdn,
            "seed": seed,
            "task_bytes": task_bytes,
            "max_line": max_line,
        },
    )
    shutil.rmtree(parts)
    return report


def _run(job, tasks: list[Task], workers: int | None, scheduler: str | None) -> Iterator[dict]:
    """Task reports in completion order: on a Dask cluster, in local processes, or inline."""
    if scheduler:
        import distributed

        try:
            client = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
        with client:
            for future in distributed.as_completed(client.map(job, tasks, pure=False)):
                yield future.result()
        return
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    if workers <= 1:
        yield from map(job, tasks)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    # forkserver: workers never inherit a caller's threads (polars, torch), which fork could deadlock;
    # the server imports the reader once, so each worker starts as a cheap fork of it
    context = get_context("forkserver")
    context.set_forkserver_preload(["smileynet.collect.collector", "pyarrow.parquet"])
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_end_with, initargs=(os.getpid(),)) as pool:
        for future in as_completed([pool.submit(job, t) for t in tasks]):
            yield future.result()


def _end_with(parent: int) -> None:
    """Pool initializer: the worker exits as soon as `parent` (the collect) is gone, even killed with
    SIGKILL, which runs no cleanup. A forkserver's worker is not its caller's child, so the
    kernel's parent-death signal cannot tell it; a pidfd (Linux) or a poll of the pid does."""

    def wait() -> None:
        try:
            select.select([os.pidfd_open(parent)], [], [])
        except (AttributeError, OSError):  # no pidfd here, or the parent is already gone
            while _alive(parent):
                time.sleep(1)
        os._exit(1)

    threading.Thread(target=wait, name="end-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _emoji_counts(parts: Path, reports: list[dict]) -> Counter[str]:
    import pyarrow.parquet as pq

    counts: Counter[str] = Counter()
    for report in reports:
        for run in report["runs"]:
            for emojis in pq.read_table(parts / run, columns=["emojis"]).column("emojis").to_pylist():
                counts.update(emojis)
    if not counts:
        raise UserError("vocabulary top:N: no post with a photo and 1 to 5 emojis was found")
    return counts


def _batches(path: Path) -> Iterator[dict]:
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


def _merge(reports: list[dict], files: list[Path], parts: Path, out: Path, vocabulary: Vocabulary) -> dict:
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

    def kept(rows: Iterator[dict], deleted: Iterator[tuple]) -> Iterator[dict]:
        """The vocabulary, deletion and duplicate rules, counted per input as the rows stream by;
        `deleted` is in the rows' order, so one look at its head decides each row."""
        previous = None
        gone = next(deleted, None)
        for row in rows:
            entry = entries[row["input"]]
            emojis = [e for e in row["emojis"] if e in vocabulary]
            if not emojis:
                entry["dropped"]["no_smiley"] += 1
                continue
            at = row["created_at"], row["post_id"]
            while gone is not None and gone < at:
                gone = next(deleted, None)
            if gone == at:
                entry["dropped"]["deleted"] += 1
                continue
            if (row["created_at"], row["post_id"]) == previous:
                entry["dropped"]["duplicate"] += 1
                continue
            previous = row["created_at"], row["post_id"]
            row["emojis"] = emojis
            entry["kept"] += 1
            yield row

    deleted = _deleted_candidates(reports, parts)
    runs = _fewer_runs(
        [parts / run for r in reports for run in r["runs"]],
        parts,
        most=MERGE_FANIN if deleted is None else MERGE_FANIN - 1,
    )
    tmp = out / ".posts.parquet.tmp"
    _write_rows(tmp, kept(heapq.merge(*map(_batches, runs), key=_order), deleted or iter(())), _schemas()[0], ROW_GROUP)
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
