"""A budget on the pixels being decoded at once, shared by every request of a server process.

A JPEG of a few hundred bytes may claim 7000 x 7000 pixels; decoding it takes 10 to 12 bytes per
claimed pixel at its peak (libjpeg's output, Pillow's image and its copy, the RGB array), about
470 MB. Sixteen of them at once took a server from 0.8 to 8.2 GB. Here a request reserves its image's claimed
pixels (read from the header) before decoding and returns them after; requests beyond the
budget wait their turn, first come first served, so decodes in flight never hold more than
`capacity` pixels together. An image larger than the whole budget (but within the per-image
limit) reserves all of it and is decoded alone.

What a decode frees, glibc keeps in the heap of the thread that decoded (one per thread, up to
8 per core), where the next decode on another thread cannot reuse it: rounds of such requests
grew a server by 180 MB under a 120 MB budget. `return_freed_memory` hands it back to the
system after each large decode, so that resident memory follows what decodes hold.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from smileynet.images import MAX_PIXELS

BYTES_PER_DECODED_PIXEL = 12  # peak memory of decoding, per claimed pixel (measured: 9.6 to 11; docs/security.md)
DECODE_BUDGET_PIXELS = 2 * MAX_PIXELS  # the default: two images of the largest size at once, 1.2 GB


def _malloc_trim():
    """glibc's `malloc_trim`, or None (musl, macOS, Windows: their allocators return memory themselves)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()
TRIM_AFTER_PIXELS = 1_000_000  # smaller decodes leave too little behind to be worth a trim


def return_freed_memory(pixels: int) -> None:
    """After a decode of `pixels`: give the heap memory it freed back to the system."""
    if _MALLOC_TRIM is not None and pixels >= TRIM_AFTER_PIXELS:
        _MALLOC_TRIM(0)


class PixelBudget:
    """`async with budget.hold(pixels):` waits until `pixels` fit within `capacity`, then holds them."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a pixel budget needs a capacity of at least 1")
        self.capacity = capacity
        self.free = capacity
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        pixels = max(0, min(pixels, self.capacity))
        if self._waiting or pixels > self.free:
            granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((pixels, granted))
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():  # granted just as it was cancelled
                    self._release(pixels)
                else:
                    self._waiting.remove((pixels, granted))
                    self._grant()
                raise
        else:
            self.free -= pixels
        try:
            yield
        finally:
            self._release(pixels)

    def _release(self, pixels: int) -> None:
        self.free += pixels
        self._grant()

    def _grant(self) -> None:
        """Wake waiters in arrival order while the first one fits (a big one is never overtaken)."""
        while self._waiting and self._waiting[0][0] <= self.free:
            pixels, granted = self._waiting.popleft()
            self.free -= pixels
            granted.set_result(None)
