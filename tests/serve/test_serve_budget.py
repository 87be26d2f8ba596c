"""The decode budget: concurrent images whose headers claim huge sizes wait their turn, so a real
server's memory stays within the documented bound; and the budget's queueing itself."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import torch
from loadtest import claiming_jpeg, memory_of, serve_process

from smileynet.model import create_model, save
from smileynet.serve.budget import BYTES_PER_DECODED_PIXEL, PixelBudget

CLAIMED = 3000  # 3000 x 3000 = 9 M pixels from ~630 bytes: ~100 MB to decode
CONCURRENT = 6
ROUNDS = 3  # memory that one round's decodes leave in their threads' heaps shows in the next
BUDGET_MPX = 10  # room for one of them at a time
REQUESTS_OVERHEAD = 100_000_000  # the concurrent requests' own connections, threads and buffers


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    return save(create_model("tiny", 92, image_size=32).eval(), tmp_path_factory.mktemp("budget") / "model")


@pytest.mark.e2e  # starting the server (importing torch) is most of it
def test_concurrent_claimed_giants_stay_within_the_decode_budget(model_dir):
    """Rounds of 6 JPEGs of ~630 bytes each claiming about 3000 x 3000, all at once, to
    `smileynet serve` on loopback: the process's peak RSS grows by at most budget x
    BYTES_PER_DECODED_PIXEL (120 MB) + 100 MB over its resident size before them (measured: 100
    to 203 MB); without an effective budget one round of 8 grew it by 790 MB."""
    giants = [claiming_jpeg(CLAIMED - 50 * i, CLAIMED - 50 * i) for i in range(CONCURRENT)]
    assert max(map(len, giants)) < 1000
    statuses = []
    with serve_process(model_dir, "--decode-megapixels", str(BUDGET_MPX), "--backend", "torch") as (url, pid):
        warm = httpx.post(url + "/v1/predict", files={"file": ("w.jpg", giants[0])}, timeout=60)
        assert warm.status_code == 200  # the decoders' code and thread pools are in memory now
        before = memory_of(pid)["VmRSS"]

        def post(giant: bytes) -> int:
            return httpx.post(url + "/v1/predict", files={"file": ("giant.jpg", giant)}, timeout=120).status_code

        with ThreadPoolExecutor(CONCURRENT) as pool:
            for _ in range(ROUNDS):
                statuses += list(pool.map(post, giants))
        peak = memory_of(pid)["VmHWM"]
    assert all(status in (200, 400) for status in statuses), statuses
    bound = BUDGET_MPX * 1_000_000 * BYTES_PER_DECODED_PIXEL + REQUESTS_OVERHEAD
    unbudgeted = CONCURRENT * CLAIMED**2 * BYTES_PER_DECODED_PIXEL
    assert unbudgeted > 2.5 * bound  # the test tells a budgeted server from one without
    assert peak - before <= bound, f"peak RSS grew by {(peak - before) / 1e6:.0f} MB, bound {bound / 1e6:.0f} MB"


def test_budget_grants_in_arrival_order_and_returns_what_is_held():
    async def scenario() -> list[str]:
        budget = PixelBudget(10)
        order: list[str] = []
        gates = {name: asyncio.Event() for name in ("big", "huge", "small")}

        async def hold(name: str, pixels: int) -> None:
            async with budget.hold(pixels):
                order.append(name)
                await gates[name].wait()

        big = asyncio.create_task(hold("big", 6))
        await asyncio.sleep(0)
        huge = asyncio.create_task(hold("huge", 50))  # over the capacity: takes all of it, alone
        small = asyncio.create_task(hold("small", 2))  # fits now, but waits behind the earlier one
        await asyncio.sleep(0.01)
        assert order == ["big"] and budget.free == 4
        gates["big"].set()
        await asyncio.sleep(0.01)
        assert order == ["big", "huge"] and budget.free == 0
        gates["huge"].set()
        gates["small"].set()
        await asyncio.gather(big, huge, small)
        assert budget.free == 10

        blocker = asyncio.create_task(hold("big", 10))
        gates["big"].clear()
        await asyncio.sleep(0)
        waiter = asyncio.create_task(hold("small", 5))
        await asyncio.sleep(0.01)
        waiter.cancel()  # a client gone while waiting gives up its place
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gates["big"].set()
        await blocker
        assert budget.free == 10 and not budget._waiting
        return order

    assert asyncio.run(scenario()) == ["big", "huge", "small", "big"]
