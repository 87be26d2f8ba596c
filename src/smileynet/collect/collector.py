"""collect: archives -> the posts the filter passes, streaming, parallel, resumable.

The driver wires the parts: work is split into tasks (a file, or a group of members of a big
archive; `archives.make_tasks`), each run by `task.collect_task` (read, filter, write sorted runs
into `OUT/.parts/`) through `runner.run_tasks` (inline, local processes or a Dask cluster); the
driver appends each finished task to `.parts/done.txt`, and with `resume=True` finished tasks are
not redone. `merge.merge` then joins the runs into `posts.parquet` (vocabulary, duplicates,
deletions) and the driver writes `collect_report.json`, `categories.csv` and `config.yaml`. The
output depends only on the inputs, never on the worker count, the scheduler, or interruptions.
On a Dask cluster the inputs and OUT must be on a filesystem every worker sees (the part files
are written by the workers).

Counting: every record read ends as kept or as exactly one drop reason (the first rule it
breaks, cheap rules first; see `filter.drop_reason`). `no_smiley` covers posts with no emoji
and posts whose emojis are all outside the vocabulary; `duplicate` counts repeats of a post that
would otherwise be kept, charged to the input where the later copy sits; `deleted` counts posts
that would otherwise be kept and whose delete notice is in the inputs, charged where the post sits
(the notice itself is a `not_a_post` where it sits); `sensitive` counts posts that would otherwise
be kept and are flagged sensitive (unless `keep_sensitive`). Of an edited post only the latest
version can be kept: an earlier version counts for the first rule it breaks, else as `duplicate`
when the latest is kept, or for the latest version's reason when that one is dropped.
"""

from __future__ import annotations

import json
import os
import shutil
from functools import partial
from pathlib import Path

from smileynet.collect.archives import MAX_LINE, TASK_BYTES, expand_inputs, make_tasks
from smileynet.collect.bluesky import DEFAULT_BLUESKY_CDN
from smileynet.collect.merge import MERGE_ROWS, RUN_ROWS, emoji_counts, merge
from smileynet.collect.records import SOURCES
from smileynet.collect.runner import run_tasks
from smileynet.collect.schema import DROP_REASONS
from smileynet.collect.task import BAD_DATA, collect_task
from smileynet.contracts import CATEGORIES_FILE, COLLECT_REPORT_FILE, POSTS_FILE
from smileynet.errors import UserError
from smileynet.files import write_config, write_json
from smileynet.progress import progress
from smileynet.vocab import Vocabulary, load_vocabulary, parse_top_spec

__all__ = ["BAD_DATA", "DROP_REASONS", "MERGE_ROWS", "OUTPUTS", "PARTS", "collect", "collect_task"]

PARTS = ".parts"
OUTPUTS = (POSTS_FILE, COLLECT_REPORT_FILE, CATEGORIES_FILE, "config.yaml")  # what collect writes in OUT


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
    keep_sensitive: bool = False,
) -> dict:
    """Collect the posts the filter passes from `inputs` into `out/posts.parquet`; returns the report
    (also written to `out/collect_report.json`). `vocab`: None/"default", a file, or "top:N".
    Posts flagged sensitive are dropped unless `keep_sensitive` (their `sensitive` column says so).

    With `workers` > 1 the workers are forkserver processes, which import the calling script
    again: a script calling this needs the usual `if __name__ == "__main__":` guard."""
    if source != "auto" and source not in SOURCES:
        raise UserError(f"unknown source {source!r}: expected auto, {', '.join(SOURCES)}")
    if max_line < 1:
        raise UserError(f"--max-line-bytes must be at least 1, got {max_line}")
    top = parse_top_spec(vocab)
    listed = None if top else load_vocabulary(vocab)  # read before any work: a bad list file fails at once
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
        run_tasks(job, todo, workers, scheduler), total=len(todo), desc="collect", unit="task", quiet=quiet
    ):
        with open(done_file, "a") as f:
            f.write(finished["key"] + "\n")
            f.flush()
            os.fsync(f.fileno())
    reports = [json.loads((parts / f"{t.key}.json").read_text()) for t in tasks]
    if top:
        listed = Vocabulary.top_n(emoji_counts(parts, reports), top)
    assert listed is not None
    vocabulary = listed
    report = merge(reports, files, parts, out, vocabulary, keep_sensitive)
    report.update(resumed_tasks=len(tasks) - len(todo), tasks=len(tasks))
    write_json(out / COLLECT_REPORT_FILE, report)
    vocabulary.write_categories_csv(out / CATEGORIES_FILE)
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
            "keep_sensitive": keep_sensitive,
        },
    )
    shutil.rmtree(parts)
    return report
