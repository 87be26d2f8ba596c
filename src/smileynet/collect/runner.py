"""collect's runner: the tasks' reports in completion order, from a Dask cluster, local processes, or inline."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator

from smileynet.collect.archives import Task
from smileynet.errors import UserError


def run_tasks(
    job: Callable[[Task], dict], tasks: list[Task], workers: int | None, scheduler: str | None
) -> Iterator[dict]:
    """Task reports in completion order: on a Dask cluster, in local processes, or inline."""
    if scheduler:
        from distributed import Client
        from distributed import as_completed as completed_on_cluster

        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
        with client:
            for future in completed_on_cluster(client.map(job, tasks, pure=False)):
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
    context.set_forkserver_preload(["smileynet.collect.task", "pyarrow.parquet"])
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
