"""`smileynet report` on a large collect + sample output: time and peak memory of the dataset
section, which is the only part whose cost grows with the corpus.

Generates `posts.parquet` (N posts, 1-5 of the 92 smileys each) and `manifest.parquet` (N/4
images), then measures, each in a fresh process (peak RSS is per process):
- emoji counts of the posts: the report's lazy polars scan vs the baseline, the whole column
  read into Python lists and counted with a Counter;
- the label correlation (Fig. 9): the report's batched Gram matrix vs the baseline, the whole
  N x 92 multi-hot matrix built at once and `np.corrcoef`;
- the whole page (`build_report` on both folders): seconds and size.

    .venv/bin/python benchmarks/bench_report.py              # 1,000,000 posts, ~1-2 min
    .venv/bin/python benchmarks/bench_report.py --posts 5000000
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty

import numpy as np


def write_inputs(folder: Path, n: int, seed: int) -> tuple[Path, Path]:
    """posts.parquet with the DESIGN columns the report reads, and a manifest of a quarter of them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from smileynet.vocab import default_vocabulary

    vocab = default_vocabulary()
    rng = np.random.default_rng(seed)
    emojis = np.array(vocab.emojis, dtype=object)
    popularity = 1.0 / np.arange(1, len(emojis) + 1)  # Zipf-like, as Fig. 2a
    sizes = rng.integers(1, 6, n)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    values = rng.choice(len(emojis), size=int(offsets[-1]), p=popularity / popularity.sum())
    start = int(datetime(2018, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    created = pa.array(start + rng.integers(0, 180 * 86400 * 10**6, n), pa.timestamp("us", tz="UTC"))
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(emojis[values].tolist(), pa.string()))
    collect, sample = folder / "collect", folder / "sample"
    collect.mkdir()
    sample.mkdir()
    pq.write_table(
        pa.table({"post_id": pa.array(np.arange(n).astype(str)), "created_at": created, "emojis": lists}),
        collect / "posts.parquet",
    )
    m = n // 4
    keep = np.sort(rng.choice(n, m, replace=False))
    manifest = pa.table(
        {
            "image_id": pa.array([f"{i}_0" for i in keep]),
            "post_id": pa.array(keep.astype(str)),
            "created_at": created.take(pa.array(keep)),
            "window": pa.array((rng.integers(0, 6, m)).astype(np.int64)),
            "emojis": lists.take(pa.array(keep)),
            "split": pa.array(np.where(keep % 10 == 0, "test", np.where(keep % 10 == 1, "valid", "train"))),
        }
    )
    pq.write_table(manifest, sample / "manifest.parquet")
    vocab.write_categories_csv(sample / "categories.csv")
    return collect, sample


def report_counts(posts: Path) -> int:
    from smileynet.report.dataset import emoji_counts

    return len(emoji_counts(posts))


def baseline_counts(posts: Path) -> int:
    import pyarrow.parquet as pq

    rows = pq.read_table(posts, columns=["emojis"]).column(0).to_pylist()
    return len(Counter(e for row in rows for e in row))


def report_correlation(manifest: Path) -> int:
    from smileynet.report.dataset import manifest_label_rows
    from smileynet.sample.stats import label_correlation
    from smileynet.vocab import default_vocabulary

    emojis = list(default_vocabulary().emojis)
    return label_correlation(manifest_label_rows(manifest, emojis), len(emojis)).shape[0]


def baseline_correlation(manifest: Path) -> int:
    import pyarrow.parquet as pq

    from smileynet.vocab import default_vocabulary

    index = {k: i for i, k in enumerate(default_vocabulary().emojis)}
    rows = pq.read_table(manifest, columns=["emojis"]).column(0).to_pylist()
    hot = np.zeros((len(rows), len(index)))
    for r, row in enumerate(rows):
        hot[r, [index[k] for k in row]] = 1.0
    return np.corrcoef(hot, rowvar=False).shape[0]


def whole_page(inputs: list[Path], out: Path) -> int:
    from smileynet.report import ReportConfig, build_report

    return build_report(ReportConfig(inputs=inputs, out=out, quiet=True)).stat().st_size


def _peak_mib() -> float:
    """This process' peak RSS. VmHWM (Linux) starts afresh at exec; ru_maxrss would carry the
    parent's peak over from the fork that started the child."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(function, args, queue) -> None:
    start = time.perf_counter()
    result = function(*args)
    queue.put((time.perf_counter() - start, _peak_mib(), result))


def measure(function, *args) -> tuple[float, float, object]:
    """(seconds, peak RSS in MiB, result) of function(*args) in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(function, args, queue))
    process.start()
    while True:  # a child that dies (an import error, the OOM killer) must not leave us waiting forever
        try:
            result = queue.get(timeout=1)
            break
        except Empty:
            if not process.is_alive():
                raise SystemExit(f"{function.__name__} failed in its process (exit code {process.exitcode})") from None
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
        args.posts = 2000
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        collect, sample = write_inputs(folder, args.posts, args.seed)
        print(
            f"inputs: {args.posts:,} posts, {args.posts // 4:,} sampled images, "
            f"generated in {time.perf_counter() - start:.1f} s"
        )
        print(f"{'measure':<32}{'seconds':>9}{'peak MiB':>10}{'x time':>8}{'x memory':>10}")
        pairs = (
            ("emoji counts", report_counts, baseline_counts, collect / "posts.parquet"),
            ("label correlation", report_correlation, baseline_correlation, sample / "manifest.parquet"),
        )
        for name, ours, baseline, path in pairs:
            base_s, base_mb, _ = measure(baseline, path)
            our_s, our_mb, _ = measure(ours, path)
            print(f"{name + ' (baseline)':<32}{base_s:>9.2f}{base_mb:>10.0f}")
            print(
                f"{name + ' (report)':<32}{our_s:>9.2f}{our_mb:>10.0f}{base_s / our_s:>8.1f}{base_mb / our_mb:>10.1f}"
            )
        seconds, peak, size = measure(whole_page, [collect, sample], folder / "report.html")
        print(f"{'whole page (collect + sample)':<32}{seconds:>9.2f}{peak:>10.0f}   page {size / 1e6:.2f} MB")
        print("x: baseline / report (above 1: the report's way is faster / smaller)")


if __name__ == "__main__":
    main()
