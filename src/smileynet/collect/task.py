"""collect's per-file work: one task (a file, or a group of members of a big archive) -> sorted runs.

The task streams its lines, tells each record's source, applies the filter, and writes its
candidate posts as sorted parquet runs of at most `RUN_ROWS` rows, the keys of its delete notices
as sorted runs beside them, and a small JSON report, all into the collect's `.parts/` folder.

Counting: every record read ends as kept or as exactly one drop reason (the first rule it
breaks, cheap rules first; see `filter.drop_reason`); the rules that need every input (vocabulary,
duplicates, deletions, sensitive content) are counted by the merge, and so is a version of an
edited post (Mastodon `edited_at`) that fails the filter: the task writes it as a row with its
reason, since only the latest version of a post, wherever it sits, decides whether it is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from smileynet.collect.archives import MAX_LINE, Task, iter_blocks
from smileynet.collect.bluesky import DEFAULT_BLUESKY_CDN
from smileynet.collect.filter import drop_reason
from smileynet.collect.merge import RUN_ROWS, write_deletes, write_run
from smileynet.collect.post import Deletion, Malformed, Post, delete_key, parse_time
from smileynet.collect.records import parse_record
from smileynet.collect.schema import DROP_REASONS
from smileynet.files import write_json

MAX_MALFORMED_LISTED = 100  # per task; the count is always complete
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
    rows: list[dict[str, Any]] = []
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
                            delete_runs.append(write_deletes(deletes, parts, task.key, len(delete_runs)))
                    elif isinstance(post, Malformed):
                        bad(member, number, f"Malformed: {post}")
                    else:
                        try:  # one post of a page may be broken (an unreadable time): the others go on
                            reason = drop_reason(post)
                            if reason is None:
                                rows.append(_row(post, task.index, seq))
                            elif post.edited is not None:  # a later version decides: the merge counts it
                                rows.append(_version_row(post, reason, task.index, seq))
                        except BAD_DATA as err:
                            bad(member, number, f"{type(err).__name__}: {err}")
                            continue
                        counts["read"] += 1
                        if reason and post.edited is None:
                            counts[reason] += 1
                        elif len(rows) >= run_rows:
                            runs.append(write_run(rows, parts, task.key, len(runs)))
            except (Malformed, *BAD_DATA) as err:
                bad(member, number, f"{type(err).__name__}: {err}")
        if error is not None:
            bad(member, first + len(lines), str(error))
    if rows:
        runs.append(write_run(rows, parts, task.key, len(runs)))
    if deletes:
        delete_runs.append(write_deletes(deletes, parts, task.key, len(delete_runs)))
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


def _row(post: Post, index: int, seq: int) -> dict[str, Any]:
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
        "alt_texts": post.alt_texts,
        "author_id": post.author_id,
        "lang": post.lang,
        "sensitive": post.sensitive,
        "input": index,
        "seq": seq,
        "delete_key": delete_key(post),
        "edited": _microseconds(post.edited),
        "reason": None,
    }


def _version_row(post: Post, reason: str, index: int, seq: int) -> dict[str, Any]:
    """A version of an edited post that fails the filter, as a run row: only what places it among
    the post's other versions (and names it to delete notices), and the rule it breaks."""
    if not isinstance(post.post_id, str):
        raise TypeError("a text field holds another JSON type")
    return {
        "post_id": post.post_id,
        "source": post.source,
        "created_at": parse_time(post.created),
        "text": "",
        "emojis": [],
        "image_urls": [],
        "alt_texts": [],
        "author_id": "",
        "lang": None,
        "sensitive": post.sensitive,
        "input": index,
        "seq": seq,
        "delete_key": delete_key(post),
        "edited": _microseconds(post.edited),
        "reason": reason,
    }


def _microseconds(edited: str | None) -> int:
    """A version's `edited` time as microseconds since 1970, 0 for a post never edited."""
    return 0 if edited is None else (parse_time(edited) - EPOCH) // timedelta(microseconds=1)
