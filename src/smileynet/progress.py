"""Progress for long work: a bar on a terminal, plain periodic log lines elsewhere (CI, files)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
LOG_EVERY_SECONDS = 10.0


def progress(
    items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it", quiet: bool = False
) -> Iterator[T]:
    if quiet:
        yield from items
        return
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=desc, unit=unit, dynamic_ncols=True)
        return
    start = last = time.monotonic()
    count = 0
    for item in items:
        yield item
        count += 1
        now = time.monotonic()
        if now - last >= LOG_EVERY_SECONDS:
            last = now
            of = f"/{total}" if total else ""
            print(f"{desc}: {count}{of} {unit} ({count / (now - start):.1f} {unit}/s)", file=sys.stderr, flush=True)
    if count:
        elapsed = max(time.monotonic() - start, 1e-9)
        print(f"{desc}: {count} {unit} in {elapsed:.1f} s", file=sys.stderr, flush=True)
