"""Progress for long work: a bar on a terminal, plain periodic log lines elsewhere (CI, files).

The log lines carry the rate and, when the total is known, the time left (ETA); `status` adds
what the caller knows on top (train: the latest loss)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
LOG_EVERY_SECONDS = 10.0


def clock(seconds: float) -> str:
    """A duration as H:MM:SS (M:SS under an hour)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(desc: str, count: int, total: int | None, unit: str, elapsed: float, status: str = "") -> str:
    """One log line: done so far, rate, time left where the total is known, then `status`."""
    rate = count / elapsed if elapsed > 0 else 0.0
    parts = [f"{rate:.1f} {unit}/s"]
    if total and rate > 0:
        parts.append(f"ETA {clock((total - count) / rate)}")
    if status:
        parts.append(status)
    of = f"/{total}" if total else ""
    return f"{desc}: {count}{of} {unit} ({', '.join(parts)})"


def progress(
    items: Iterable[T],
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    quiet: bool = False,
    status: Callable[[], str] | None = None,
) -> Iterator[T]:
    if quiet:
        yield from items
        return
    if sys.stderr.isatty():
        bar = tqdm(items, total=total, desc=desc, unit=unit, dynamic_ncols=True)
        for item in bar:
            yield item
            if status is not None:
                bar.set_postfix_str(status(), refresh=False)
        return
    start = last = time.monotonic()
    count = 0
    for item in items:
        yield item
        count += 1
        now = time.monotonic()
        if now - last >= LOG_EVERY_SECONDS:
            last = now
            line = progress_line(desc, count, total, unit, now - start, status() if status else "")
            print(line, file=sys.stderr, flush=True)
    if count:
        elapsed = max(time.monotonic() - start, 1e-9)
        final = f", {status()}" if status is not None and status() else ""
        print(f"{desc}: {count} {unit} in {elapsed:.1f} s{final}", file=sys.stderr, flush=True)
