"""Micro-batching: requests that arrive within a few milliseconds share one forward pass.

A forward pass of N images costs far less than N passes of one, so under concurrent load the
server waits up to `max_wait_ms` after the first queued image for others (at most `max_batch`),
runs them together on one inference thread, and hands each request its own row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch


class MicroBatcher:
    """`await batcher.submit(tensor)` -> that image's output row, computed in a shared batch."""

    def __init__(
        self, forward: Callable[[torch.Tensor], np.ndarray], max_batch: int = 32, max_wait_ms: float = 5.0
    ) -> None:
        self.forward = forward
        self.max_batch = max(1, max_batch)
        self.max_wait = max_wait_ms / 1000.0
        self.batches = 0  # forward passes run, for tests and the benchmark
        self.images = 0
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start the batching loop on the running event loop (the app's lifespan calls this)."""
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="smileynet-forward")
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._task = self._executor = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def submit(self, image: torch.Tensor) -> np.ndarray:
        if not self.running or self._queue is None:
            raise RuntimeError("batcher is not running")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((image, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._queue is not None
        while True:
            items = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(items) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            items = [(image, future) for image, future in items if not future.cancelled()]  # client gone
            if not items:
                continue
            try:
                rows = await loop.run_in_executor(
                    self._executor, self.forward, torch.stack([image for image, _ in items])
                )
            except Exception as err:  # a model failure fails these requests, not the loop
                for _, future in items:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.batches += 1
            self.images += len(items)
            for (_, future), row in zip(items, rows):
                if not future.done():
                    future.set_result(row)
