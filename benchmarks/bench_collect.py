"""Benchmark `collect` on a generated Archive Team stream grab (tars of per-minute .json.bz2).

Prints records/s (best of `--repeat` interleaved runs) for: the ceiling (bz2 decompress + orjson.loads of every line of the same
files, one process, nothing else), collect with 1 worker, collect with 2 workers; and the peak
memory (VmHWM) of a 1-worker collect process on N and 4N records. Goals: collect >= 0.9x
the ceiling, 2 workers >= 1.8x one, peak memory flat as input grows.

    python benchmarks/bench_collect.py                 # 100k records (a few minutes)
    python benchmarks/bench_collect.py --records 1000000 --memory-records 1000000
"""

from __future__ import annotations

import argparse
import bz2
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from functools import cache
from pathlib import Path

import numpy as np
import orjson

SMILEYS = ["\U0001f602", "\U0001f60d", "\U0001f62d", "\U0001f60a", "\U0001f480", "\U0001f914"]


@cache
def _vocabulary() -> list[str]:
    """Built on first use, not at import: collect's worker processes import this main module again."""
    rng = np.random.default_rng(12345)
    return ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), int(rng.integers(2, 10)))) for _ in range(5000)]


def _words(rng: np.random.Generator, n: int) -> str:
    words = _vocabulary()
    return " ".join(words[i] for i in rng.integers(0, len(words), n))


def _user(u: int) -> dict:
    rng = np.random.default_rng(u)
    return {
        "id": u,
        "id_str": str(u),
        "name": _words(rng, 2),
        "screen_name": _words(rng, 1) + str(u),
        "location": _words(rng, 1),
        "url": None,
        "description": _words(rng, 12),
        "protected": False,
        "verified": False,
        "followers_count": int(rng.integers(10**4)),
        "friends_count": int(rng.integers(10**3)),
        "listed_count": 1,
        "favourites_count": int(rng.integers(10**4)),
        "statuses_count": int(rng.integers(10**5)),
        "created_at": "Wed Jan 05 10:00:00 +0000 2011",
        "utc_offset": None,
        "time_zone": None,
        "lang": None,
        "profile_image_url_https": f"https://pbs.twimg.com/profile_images/{u}/{_words(rng, 1)}_normal.jpg",
    }


@cache
def _users() -> list[dict]:
    return [_user(u) for u in range(2000)]


def status(i: int, rng: np.random.Generator) -> dict:
    """A v1.1 streaming status about the size of a real one (~2 KB); ~5% qualify for the dataset."""
    kind = rng.random()
    text = _words(rng, int(rng.integers(4, 20))) + (" " + SMILEYS[i % 6] if rng.random() < 0.5 else "")
    users = _users()
    user = users[int(rng.integers(len(users)))]
    s = {
        "created_at": f"Thu Jun 08 15:{i // 60 % 60:02d}:{i % 60:02d} +0000 2017",
        "id": 10**17 + i,
        "id_str": str(10**17 + i),
        "text": text,
        "source": '<a href="http://twitter.com/download/android">Android</a>',
        "truncated": False,
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "user": user,
        "geo": None,
        "coordinates": None,
        "place": None,
        "is_quote_status": False,
        "retweet_count": 0,
        "favorite_count": 0,
        "lang": "en",
        "timestamp_ms": "1496935407000",
        "entities": {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []},
    }
    if kind < 0.3:
        s["retweeted_status"] = {"id_str": "5", "text": text, "user": users[0]}
    elif kind < 0.4:
        s["in_reply_to_status_id"], s["in_reply_to_status_id_str"] = 5, "5"
    elif kind < 0.5:
        s["entities"]["hashtags"] = [{"text": "tag", "indices": [0, 4]}]
    if rng.random() < 0.12:
        s["extended_entities"] = {
            "media": [
                {"type": "photo", "url": "https://t.co/m", "media_url_https": f"https://pbs.twimg.com/media/{i}.jpg"}
            ]
        }
    return s


def generate(folder: Path, records: int, files: int, seed: int = 0) -> list[Path]:
    """`files` tars (one per hour), each of per-minute .json.bz2 members; ~8% delete notices.
    A folder that already holds this very archive (a kept `--work`) is reused as it is."""
    marker, spec = folder / ".generated", f"{records} {files} {seed}"
    paths = [folder / f"twitter-stream-2017-06-08-{f:02d}.tar" for f in range(files)]
    if marker.exists() and marker.read_text() == spec:
        return paths
    marker.unlink(missing_ok=True)  # a run killed while it rewrites the folder leaves no stale claim
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = records // files
    for f, path in enumerate(paths):
        with tarfile.open(path, "w") as tar:
            per_minute = max(per_file // 60, 1)
            for m, start in enumerate(range(f * per_file, (f + 1) * per_file, per_minute)):
                lines = []
                for i in range(start, min(start + per_minute, (f + 1) * per_file)):
                    lines.append(orjson.dumps(status(i, rng)))
                    if rng.random() < 0.08:
                        lines.append(b'{"delete":{"status":{"id":1,"id_str":"1","user_id":2,"user_id_str":"2"}}}')
                data = bz2.compress(b"\n".join(lines) + b"\n", 9)
                info = tarfile.TarInfo(f"2017/06/08/{f:02d}/{m:02d}.json.bz2")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    marker.write_text(spec)
    return paths


def ceiling(paths: list[Path]) -> tuple[int, float]:
    """Decompress + orjson.loads of every line, one process: the fastest any reader could go."""
    start, n = time.perf_counter(), 0
    for path in paths:
        with tarfile.open(path) as tar:
            for member in tar:
                for line in bz2.decompress(tar.extractfile(member).read()).split(b"\n"):
                    if line:
                        orjson.loads(line)
                        n += 1
    return n, time.perf_counter() - start


def timed_collect(paths: list[Path], out: Path, workers: int) -> tuple[dict, float]:
    """Wall time of a whole collect (tasks, merge, posts.parquet); modules are imported before
    the clock starts, as the ceiling's are."""
    import pyarrow.parquet  # noqa: F401

    from smileynet.collect import collect
    from smileynet.collect.collector import collect as _loaded  # noqa: F401

    start = time.perf_counter()
    report = collect(paths, out, workers=workers, quiet=True)
    return report, time.perf_counter() - start


def peak_memory_mb(paths: list[Path], out: Path) -> float:
    """Peak RSS of a fresh process running a 1-worker collect, from its own VmHWM: `ru_maxrss` would
    also hold the RSS of this (large) benchmark process, which the child inherits until its exec."""
    code = (
        "import sys; from smileynet.collect import collect; "
        "collect(sys.argv[2:], sys.argv[1], workers=1, quiet=True); "
        "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(out), *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="statuses in the speed run")
    parser.add_argument("--files", type=int, default=4, help="tar files (hours) to spread them over")
    parser.add_argument("--memory-records", type=int, default=50_000, help="N for the N vs 4N peak-memory run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="scratch folder, kept: the next run reuses the archives generated there (default: a temp dir)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, seconds: checks that the script runs; its figures mean nothing",
    )
    args = parser.parse_args()
    if args.smoke:
        print("smoke run: tiny sizes, the figures below mean nothing")
        args.records, args.files, args.memory_records, args.repeat = 2000, 2, 1000, 1
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        t = time.perf_counter()
        paths = generate(work / "grab", args.records, args.files)
        size = sum(p.stat().st_size for p in paths) / 2**20
        print(
            f"generated {args.records:,} statuses in {len(paths)} tars, {size:.0f} MiB bz2 ({time.perf_counter() - t:.0f} s)"
        )
        best = {"ceiling": float("inf"), 1: float("inf"), 2: float("inf")}
        for _ in range(args.repeat):  # interleaved, best of each: a shared machine's noise only slows runs down
            n, seconds = ceiling(paths)
            best["ceiling"] = min(best["ceiling"], seconds)
            for workers in (1, 2):
                report, seconds = timed_collect(paths, work / f"out{workers}", workers)
                best[workers] = min(best[workers], seconds)
        base = n / best["ceiling"]
        print(f"ceiling (bz2 + orjson.loads, 1 process): {base:,.0f} records/s (best of {args.repeat})")
        results = {"records": n, "ceiling_per_s": base, "repeat": args.repeat}
        for workers in (1, 2):
            rate = report["totals"]["read"] / best[workers]
            print(
                f"collect, {workers} worker(s): {rate:,.0f} records/s = {rate / base:.2f}x ceiling, "
                f"{best[1] / best[workers]:.2f}x one worker (kept {report['totals']['kept']:,})"
            )
            results[f"collect_{workers}_per_s"] = rate
        small = generate(work / "mem1", args.memory_records, args.files, seed=1)
        large = generate(work / "mem4", 4 * args.memory_records, args.files, seed=2)
        m1, m4 = peak_memory_mb(small, work / "m1"), peak_memory_mb(large, work / "m4")
        print(
            f"peak memory, 1 worker: {m1:.0f} MiB for {args.memory_records:,} records, "
            f"{m4:.0f} MiB for {4 * args.memory_records:,} ({m4 / m1:.2f}x)"
        )
        results.update(peak_mb_n=m1, peak_mb_4n=m4, memory_records=args.memory_records)
        print(json.dumps(results))


if __name__ == "__main__":
    main()
