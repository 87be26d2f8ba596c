"""What both listeners share: stop rules, reconnect backoff, counters and the progress line."""

from __future__ import annotations

import asyncio
import math
import random
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from smileynet.errors import UserError

LOG_EVERY_SECONDS = 10.0
FUTURE_SLACK_SECONDS = 300.0  # how far ahead of our clock a source's timestamp may be before it is refused


def positive(flag: str, value: float | None) -> None:
    """A number flag must be finite and above zero: NaN would never stop a run, 0 would spin."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UserError(f"{flag} must be a number above 0, not {value}")


def say(line: str) -> None:
    """One line on stderr, even under --quiet: what went wrong must never be silent."""
    print(("\r\x1b[K" if sys.stderr.isatty() else "") + "listen: " + line, file=sys.stderr, flush=True)


@dataclass
class Backoff:
    """Exponential backoff with full jitter: the n-th failure in a row waits uniform(0, min(cap, base * 2^n))."""

    base: float = 0.5
    cap: float = 60.0
    failures: int = 0

    def delay(self) -> float:
        self.failures += 1
        return random.uniform(0, min(self.cap, self.base * 2 ** (self.failures - 1)))

    def reset(self) -> None:
        self.failures = 0


@dataclass
class Counters:
    """What a listener reports: on the progress line while it runs, and as its result."""

    written: int = 0  # events appended to the archive in this run
    images: int = 0  # posts with images among them
    deletes: int = 0  # delete notices among them
    edits: int = 0  # edited versions of posts among them (Mastodon `status.update`)
    repeats: int = 0  # events received again after a reconnect, dropped (already on disk)
    bad_frames: int = 0  # frames that were not JSON of the expected shape (or stamped in the future), skipped
    connections: int = 0
    answered: bool = False  # a source answered at all (a rate limit counts): it was reachable
    errors: list[str] = field(default_factory=list)  # the last few connection failures
    started: float = field(default_factory=time.monotonic)

    @property
    def reconnects(self) -> int:
        return max(self.connections - 1, 0)

    def failed(self, error: BaseException | str) -> None:
        """Keep the failure for the result and print it now: a run that records nothing says why."""
        text = str(error)[:200] or type(error).__name__
        self.errors = [*self.errors[-4:], text]
        say(text)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (
            f"{self.written} events ({self.written / elapsed:.0f}/s), {self.images} posts with images, "
            f"{self.deletes} deletes, {self.reconnects} reconnects, {self.bad_frames} bad frames"
        )

    def result(self) -> dict[str, Any]:
        return {
            "events": self.written,
            "posts_with_images": self.images,
            "deletes": self.deletes,
            "edits": self.edits,
            "repeats_dropped": self.repeats,
            "bad_frames": self.bad_frames,
            "reconnects": self.reconnects,
            "connections": self.connections,
            "seconds": round(time.monotonic() - self.started, 3),
            "last_errors": self.errors,
        }


def require(module: str) -> None:
    """A missing optional dependency is a one-line error, not a traceback."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UserError(f"listen needs the {module!r} package: pip install 'smileynet[data]'")


class Stopper:
    """One stop flag for every rule: --duration, --max-events, SIGINT, SIGTERM."""

    def __init__(self, duration: float | None, max_events: int | None) -> None:
        positive("--duration", duration)
        if max_events is not None and max_events < 1:
            raise UserError(f"--max-events must be 1 or more, not {max_events}")
        self.event = asyncio.Event()
        self.deadline = time.monotonic() + duration if duration else None
        self.max_events = max_events
        self.reason: str | None = None

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()

    def full(self, counters: Counters) -> bool:
        """True (and stopping) once --max-events events are written: the caller writes no more."""
        if self.max_events is not None and counters.written >= self.max_events:
            self.stop("max-events")
            return True
        return False

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop, sig.name)

    def remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    async def tick(self, counters: Counters, quiet: bool, every: float = 0.5) -> None:
        """Checks the deadline and keeps the progress line fresh until stopped."""
        tty = sys.stderr.isatty()
        last_log = time.monotonic()
        while not self.event.is_set():
            try:
                await asyncio.wait_for(self.event.wait(), every)
            except TimeoutError:
                pass
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                self.stop("duration")
            if quiet:
                continue
            if tty:
                print("\r" + counters.line(), end="", file=sys.stderr, flush=True)
            elif now - last_log >= LOG_EVERY_SECONDS:
                last_log = now
                print("listen: " + counters.line(), file=sys.stderr, flush=True)
        if not quiet:
            print(
                ("\r" if tty else "listen: ") + counters.line() + f" (stopped: {self.reason})",
                file=sys.stderr,
                flush=True,
            )


async def run_until_stopped(
    stopper: Stopper, counters: Counters, work: Callable[[], Coroutine[Any, Any, None]], quiet: bool
) -> None:
    """Run `work()` (a coroutine that loops until cancelled) until a stop rule fires; an error that
    ends `work` (a refused token, a disabled timeline) is raised here, after the stop."""
    stopper.install_signals()
    task = asyncio.create_task(work())
    task.add_done_callback(lambda t: stopper.stop("finished"))
    try:
        await stopper.tick(counters, quiet)
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        finally:
            stopper.remove_signals()


def check_connected(counters: Counters, what: str) -> None:
    """A run in which no endpoint ever answered is a failure (exit 1), with the last reason."""
    if counters.connections == 0 and not counters.answered:
        last = counters.errors[-1] if counters.errors else "no answer before the run stopped"
        raise UserError(f"{what}: never connected, nothing recorded (last error: {last})")
