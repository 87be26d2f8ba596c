"""`smileynet download`: each split's urls into WebDataset shards, with img2dataset's parts.

img2dataset's reader cuts the url table into shards, its downloader fetches a shard with a
thread pool, its writer writes `NNNNN.tar` (+ `NNNNN.parquet` of every row's status and
`NNNNN_stats.json`), its distributor spreads shards over processes (multiprocessing) or a Spark
session (pyspark, opened by spark.py). We wire those parts as `img2dataset.download` does,
with two changes: the resize step is `SafeResizer` (EXIF rotation, truncated files and
decompression bombs counted, see resize.py), and every fetch goes through the project's fetch
policy (`smileynet.fetch`: http/https only, no private or link-local targets unless
`--allow-private-network`, `--max-bytes`, a `--deadline` per download), each refusal counted
under its own reason.

Resume is img2dataset's incremental mode: a shard is done when its `_stats.json` exists, which
is written after its tar is closed. A rerun after a kill rewrites the unfinished shards whole and
leaves finished ones untouched, so no sample is duplicated or dropped.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from smileynet.data.layout import SPLITS
from smileynet.download.resize import SafeResizer
from smileynet.download.url_tables import COLUMNS, shuffled, split_tables
from smileynet.errors import UserError
from smileynet.fetch import DEADLINE, MAX_BYTES, FetchPolicy
from smileynet.files import read_config, write_config, write_json
from smileynet.images import MAX_PIXELS
from smileynet.progress import progress

DISTRIBUTORS = ("multiprocessing", "pyspark")
SHARD_DIGITS = 5
DISALLOWED = {"noai", "noimageai", "noindex", "noimageindex"}  # X-Robots-Tag values img2dataset honours by default


@dataclass
class DownloadConfig:
    source: Path
    out: Path
    image_size: int = 256
    jpeg_quality: int = 95
    processes: int = 1
    threads: int = 32
    shard_size: int = 10_000
    retries: int = 2
    timeout: int = 10
    max_pixels: int = MAX_PIXELS
    max_bytes: int = MAX_BYTES
    deadline: float = DEADLINE
    allow_private_network: bool = False
    distributor: str = "multiprocessing"
    spark_master: str | None = None
    splits: tuple[str, ...] = SPLITS
    seed: int = 0  # the order of each split's rows (url_tables.shuffled)
    quiet: bool = False
    verbose: bool = False

    def check(self) -> None:
        if self.distributor not in DISTRIBUTORS:
            raise UserError(f"unknown distributor {self.distributor!r}: use {', '.join(DISTRIBUTORS)}")
        if self.spark_master and self.distributor != "pyspark":
            raise UserError("--spark-master needs --distributor pyspark")
        for name in (
            "image_size",
            "processes",
            "threads",
            "shard_size",
            "timeout",
            "max_pixels",
            "max_bytes",
            "deadline",
        ):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1")
        if not 1 <= self.jpeg_quality <= 100:
            raise UserError("--jpeg-quality must be between 1 and 100")
        if self.retries < 0:
            raise UserError("--retries must be >= 0")
        unknown = set(self.splits) - set(SPLITS)
        if unknown:
            raise UserError(f"unknown split {sorted(unknown)[0]!r}: use {', '.join(SPLITS)}")
        if self.distributor == "pyspark":
            from smileynet.download.spark import check_spark

            check_spark()


def download(config: DownloadConfig) -> dict[str, Any]:
    """Download every split of `config.source` into `config.out/{split}/`; returns the summary,
    also written to `out/download_summary.json`. Rerunning resumes."""
    config.check()
    tables = {s: shuffled(t, config.seed, s) for s, t in split_tables(config.source, config.splits).items()}
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_sharding(out, config)
    write_config(out / "download_config.yaml", asdict(config))
    categories = Path(config.source) / "categories.csv"
    if categories.is_file():
        shutil.copyfile(categories, out / "categories.csv")
    with _distributor_session(config):
        for split, table in tables.items():
            download_split(table, out / split, config)
    summary = summarize(out, list(tables))
    write_json(out / "download_summary.json", summary)
    return summary


def download_split(table: pa.Table, folder: Path, config: DownloadConfig) -> None:
    """One split through img2dataset's reader -> downloader -> writer, on the chosen distributor."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # img2dataset imports albumentations, which phones home
    from img2dataset import distributor as distributors
    from img2dataset.reader import Reader
    from img2dataset.writer import WebDatasetSampleWriter

    from smileynet.download.fetcher import PolicyDownloader

    folder.mkdir(parents=True, exist_ok=True)
    urls = folder / "_urls.parquet"
    _write_input(table, urls)
    done = {int(p.name.split("_")[0]) for p in folder.glob("*_stats.json")}
    total = math.ceil(table.num_rows / config.shard_size)
    if len(done) == total:
        return
    tmp = folder / "_tmp"
    tmp.mkdir(exist_ok=True)
    extra = [c for c in COLUMNS if c != "url"]
    reader = Reader(str(urls), "parquet", "url", None, None, None, extra, config.shard_size, done, str(tmp))
    downloader = PolicyDownloader(
        FetchPolicy(config.max_bytes, config.deadline, config.allow_private_network),
        sample_writer_class=WebDatasetSampleWriter,
        resizer=SafeResizer(config.image_size, config.jpeg_quality, config.max_pixels),
        thread_count=config.threads,
        save_caption=False,
        extract_exif=False,
        output_folder=str(folder),
        column_list=reader.column_list,
        timeout=config.timeout,
        number_sample_per_shard=config.shard_size,
        oom_shard_count=SHARD_DIGITS,
        compute_hash="sha256",
        verify_hash_type=None,
        encode_format="jpg",
        retries=config.retries,
        user_agent_token="smileynet",
        disallowed_header_directives=DISALLOWED,
    )
    log = None if config.verbose else folder / "img2dataset.log"
    with contextlib.ExitStack() as stack:
        if log is not None:  # img2dataset prints per shard and per failed url: into its log, not on the terminal
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(log, "a", encoding="utf-8"))))
        if config.distributor == "multiprocessing":
            _run_shards(downloader, reader, total - len(done), config, folder.name, log)
        else:
            getattr(distributors, f"{config.distributor}_distributor")(config.processes, downloader, reader, 1000, 1)
    shutil.rmtree(tmp, ignore_errors=True)


def _run_shards(downloader, reader, count: int, config: DownloadConfig, split: str, log: Path | None) -> None:
    """img2dataset's multiprocessing distributor with our progress in place of its raw tqdm, and the
    workers' own output in `log` (None: on the terminal). One process runs the shards here rather
    than start a pool of one (seconds of imports per split)."""
    with contextlib.ExitStack() as stack:
        results: Iterator[Any]
        if config.processes == 1:
            results = map(downloader, reader)
        else:
            pool = stack.enter_context(
                multiprocessing.get_context("spawn").Pool(
                    config.processes, maxtasksperchild=5, initializer=_output_to, initargs=(str(log) if log else None,)
                )
            )
            results = pool.imap_unordered(downloader, reader)
        failed = [
            row
            for ok, row in progress(results, total=count, desc=f"download {split}", unit="shard", quiet=config.quiet)
            if not ok
        ]
        for row in failed:  # one retry per failed shard, as img2dataset's distributors do
            downloader(row)


def _output_to(log: str | None) -> None:
    """In a download worker: what it prints goes to `log` (None: stays on the terminal)."""
    if log is not None:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)


def _write_input(table: pa.Table, path: Path) -> None:
    """The url table img2dataset shards; a rerun must see the same rows or resume would mix datasets."""
    if path.is_file():
        if pq.read_table(path).equals(table):
            return
        if any(path.parent.glob("*_stats.json")):
            raise UserError(f"{path.parent} holds a download of different input: use a new --out, or delete it")
    pq.write_table(table, path)


def _check_same_sharding(out: Path, config: DownloadConfig) -> None:
    """Resuming with another --shard-size would cut the rows differently and mix two downloads."""
    previous = out / "download_config.yaml"
    if previous.is_file() and any(out.glob("*/*_stats.json")):
        size = read_config(previous).get("shard_size")
        if size is not None and size != config.shard_size:
            raise UserError(f"{out} was downloaded with --shard-size {size}: resume with the same, or use a new --out")


def _distributor_session(config: DownloadConfig) -> contextlib.AbstractContextManager:
    """One Spark session for every split (starting one takes seconds); nothing to open otherwise."""
    if config.distributor != "pyspark":
        return contextlib.nullcontext()
    from smileynet.download.spark import spark_session

    return spark_session(config.spark_master, config.processes, quiet=config.quiet)


HTTP_ERROR = re.compile(r"HTTP Error (\d{3})")


def failure_reason(message: str) -> str:
    """img2dataset's raw error text -> a short reason to count ("http 404", "timeout", "not an image")."""
    text = str(message)
    lower = text.lower()
    if "refused: " in text:  # the fetch policy's own reasons, e.g. "refused: link-local address"
        return text[text.index("refused: ") :].split(" (")[0]
    if "redirect" in lower and ("loop" in lower or "infinite" in lower):
        return "redirect loop"
    match = HTTP_ERROR.search(text)
    if match:
        return f"http {match.group(1)}"
    if "timed out" in lower or "timeout" in lower:
        return "timeout"
    if "refused" in lower:
        return "connection refused"
    if "remote end closed" in lower or "incompleteread" in lower or "connection reset" in lower:
        return "connection closed"
    if "urlopen error" in lower or "name or service not known" in lower:
        return "connection error"
    if "x-robots-tag" in lower:
        return "disallowed by X-Robots-Tag"
    if "unknown url type" in lower:
        return "bad url"
    return re.sub(r"0x[0-9a-f]+|\d+", "N", text.split(" (")[0].split(": ")[0])[:80] or "unknown"


def summarize(out: Path, splits: list[str]) -> dict[str, Any]:
    """Successes and failures by reason, per split and in total, from img2dataset's shard stats."""
    summary: dict[str, Any] = {"splits": {}}
    total: Counter = Counter()
    total_failures: Counter = Counter()
    for split in splits:
        counts: Counter = Counter()
        failures: Counter = Counter()
        stats_files = sorted((out / split).glob("*_stats.json"))
        for path in stats_files:
            stats = json.loads(path.read_text())
            counts.update({k: stats[k] for k in ("count", "successes", "failed_to_download", "failed_to_resize")})
            for message, n in stats["status_dict"].items():
                if message != "success":
                    failures[failure_reason(message)] += n
        summary["splits"][split] = {
            "count": counts["count"],
            "successes": counts["successes"],
            "failed_to_download": counts["failed_to_download"],
            "failed_to_resize": counts["failed_to_resize"],
            "shards": len(stats_files),
            "failures": dict(failures.most_common()),
        }
        total.update(counts)
        total_failures.update(failures)
    summary["total"] = {
        "count": total["count"],
        "successes": total["successes"],
        "failed_to_download": total["failed_to_download"],
        "failed_to_resize": total["failed_to_resize"],
        "failures": dict(total_failures.most_common()),
    }
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    lines = []
    for split, s in {**summary["splits"], "total": summary["total"]}.items():
        rate = s["successes"] / s["count"] if s["count"] else 0.0
        reasons = ", ".join(f"{k} {v}" for k, v in s["failures"].items()) or "none"
        lines.append(f"{split}: {s['successes']}/{s['count']} images ({rate:.1%}); failures: {reasons}")
    return "\n".join(lines)
