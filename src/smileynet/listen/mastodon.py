"""listen mastodon: an instance's public timeline -> hourly archives of Mastodon status JSON.

Streaming first: the public streaming API (server-sent events) with a token from an environment
variable when one is set. An instance that refuses the stream (401/403/404: most want a token)
is polled instead: the public timeline with `min_id`, the newest status written so far. Every
(re)connection of the stream first catches up the same way, so a gap is filled and a restart
resumes. A status seen twice (once in the catch-up, once on the stream) is written once: the
ids of the last `RECENT_IDS` statuses are remembered, a bounded window, not a growing set.

Lines: each status as its JSON object; a stream `delete` event as `{"event": "delete",
"payload": ID}`, which `collect` reads as a delete notice. 429 answers wait `Retry-After`;
`X-RateLimit-Remaining: 0` waits until `X-RateLimit-Reset`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from smileynet.errors import UserError
from smileynet.listen.archive import HourlyArchive, hour_path
from smileynet.listen.common import (
    Backoff,
    Counters,
    Stopper,
    require,
    run_until_stopped,
)

PAGE = 40  # the most statuses a timeline page holds
RECENT_IDS = 10_000
MAX_WAIT = 900.0  # seconds: the longest a rate limit makes us wait in one go
REFUSED = (401, 403, 404, 410, 422)  # the stream is not for us: poll instead


def _id_order(status_id: str) -> tuple[int, str]:
    """Mastodon ids are decimal strings: compare by length, then text (numeric order, no int())."""
    return len(status_id), status_id


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited: waiting {wait:.0f} s")
        self.wait = wait


def rate_limit_wait(response, now: float | None = None) -> float | None:
    """Seconds the instance asks us to wait before the next request, or None."""
    now = time.time() if now is None else now
    headers = response.headers
    if response.status_code == 429 or response.status_code == 503 and "retry-after" in headers:
        value = headers.get("retry-after", "")
        if value.strip().isdigit():
            return min(float(value), MAX_WAIT)
        try:
            return min(max(parsedate_to_datetime(value).timestamp() - now, 0.0), MAX_WAIT)
        except (TypeError, ValueError):
            return None  # no usable hint: the caller's backoff decides
    if headers.get("x-ratelimit-remaining", "").strip() == "0" and "x-ratelimit-reset" in headers:
        try:
            reset = datetime.fromisoformat(headers["x-ratelimit-reset"].replace("Z", "+00:00"))
        except ValueError:
            return None
        if reset.tzinfo is None:
            reset = reset.replace(tzinfo=UTC)
        return min(max(reset.timestamp() - now, 0.0), MAX_WAIT)
    return None


class MastodonListener:
    def __init__(
        self,
        instance: str,
        out: Path,
        token: str | None,
        stopper: Stopper,
        counters: Counters,
        *,
        poll_seconds: float,
        backoff: Backoff,
        commit_seconds: float,
        idle_timeout: float,
        timeout: float,
    ) -> None:
        self.instance = instance.rstrip("/")
        self.archive = HourlyArchive(out, "mastodon")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.stopper, self.counters, self.backoff = stopper, counters, backoff
        self.poll_seconds, self.commit_seconds = poll_seconds, commit_seconds
        self.idle_timeout, self.timeout = idle_timeout, timeout
        self.last_id: str | None = (self.archive.cursor or {}).get("id")
        self.recent: deque[str] = deque(maxlen=RECENT_IDS)
        self.recent_set: set[str] = set()
        self.mode = "stream"
        self.dirty = False

    @property
    def cursor(self) -> dict | None:
        return None if self.last_id is None else {"id": self.last_id}

    async def run(self) -> None:
        import httpx

        timeout = httpx.Timeout(self.timeout, read=self.idle_timeout)
        async with httpx.AsyncClient(timeout=timeout, headers=self.headers, follow_redirects=False) as client:
            committer = asyncio.create_task(self._commit_often())
            try:
                while not self.stopper.event.is_set():
                    try:
                        if self.mode == "stream":
                            await self._stream(client)
                        else:
                            self.counters.connections += 1
                            await self._poll(client, forever=True)
                    except RateLimited as limited:
                        self.counters.failed(limited)
                        await self._sleep(limited.wait or self.backoff.delay())
                        continue
                    except (httpx.HTTPError, ValueError) as err:  # refused, reset, timeout, a bad page
                        self.counters.failed(f"{type(err).__name__}: {err}")
                    self._commit()
                    await self._sleep(self.backoff.delay())
            finally:
                committer.cancel()

    async def _stream(self, client) -> None:
        """One streaming connection: catch up by polling, then write events until it ends."""
        import orjson
        from httpx_sse import aconnect_sse

        url = f"{self.instance}/api/v1/streaming/public"
        async with aconnect_sse(client, "GET", url) as source:
            response = source.response
            if response.status_code in REFUSED:
                self.mode = "poll"
                self.counters.failed(f"streaming answered {response.status_code}: polling the timeline")
                return
            if (wait := rate_limit_wait(response)) is not None and response.status_code >= 400:
                raise RateLimited(wait)
            response.raise_for_status()
            self.counters.connections += 1
            await self._poll(client, forever=False)  # the gap since the last status written
            if self.stopper.event.is_set():
                return
            async for message in source.aiter_sse():
                self.backoff.reset()
                if message.event == "update":
                    try:
                        status = orjson.loads(message.data)
                    except orjson.JSONDecodeError:
                        status = None
                    if not isinstance(status, dict) or "id" not in status:
                        self.counters.bad_frames += 1
                        continue
                    self._write_status(status, message.data.encode())
                elif message.event == "delete":
                    self._write_line(orjson.dumps({"event": "delete", "payload": message.data}))
                    self.counters.deletes += 1
                if self.stopper.full(self.counters):
                    return

    async def _poll(self, client, forever: bool) -> None:
        """Timeline pages newer than the last status written, oldest first; `forever`: keep polling."""
        import orjson

        if not forever and self.last_id is None:
            return  # a first stream starts now: nothing to catch up
        while not self.stopper.event.is_set():
            params = {"limit": PAGE, **({"min_id": self.last_id} if self.last_id else {})}
            response = await client.get(f"{self.instance}/api/v1/timelines/public", params=params)
            wait = rate_limit_wait(response)
            if response.status_code >= 400:
                if wait is not None:
                    raise RateLimited(wait)
                response.raise_for_status()
            page = orjson.loads(response.content)
            if not isinstance(page, list):
                raise ValueError("the timeline is not a JSON list")
            self.backoff.reset()
            for status in sorted(
                (s for s in page if isinstance(s, dict) and "id" in s), key=lambda s: _id_order(str(s["id"]))
            ):
                self._write_status(status, orjson.dumps(status))
                if self.stopper.full(self.counters):
                    return
            if wait:  # the limit is spent: wait for its reset before the next page
                await self._sleep(wait)
            elif len(page) < PAGE:
                if not forever:
                    return
                await self._sleep(self.poll_seconds)

    def _write_status(self, status: dict, line: bytes) -> None:
        status_id = str(status["id"])
        if status_id in self.recent_set:
            self.counters.repeats += 1
            return
        if len(self.recent) == self.recent.maxlen:
            self.recent_set.discard(self.recent[0])
        self.recent.append(status_id)
        self.recent_set.add(status_id)
        self._write_line(line)
        if self.last_id is None or _id_order(status_id) > _id_order(self.last_id):
            self.last_id = status_id
        media = status.get("media_attachments") or []
        self.counters.images += any(isinstance(m, dict) and m.get("type") == "image" for m in media)

    def _write_line(self, line: bytes) -> None:
        name = hour_path(time.time())
        if self.archive.switching(name):
            self._commit()
        self.archive.write(name, line)
        self.counters.written += 1
        self.dirty = True

    def _commit(self) -> None:
        if self.dirty:
            self.archive.commit(self.cursor)
            self.dirty = False

    async def _commit_often(self) -> None:
        while True:
            await asyncio.sleep(self.commit_seconds)
            self._commit()

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or less when a stop rule fires (the loops then see the flag and end)."""
        waiter = asyncio.ensure_future(self.stopper.event.wait())
        try:
            await asyncio.wait([waiter], timeout=seconds)
        finally:
            waiter.cancel()

    def close(self) -> None:
        self.archive.close(self.cursor)


def listen_mastodon(
    instance: str,
    out: str | Path,
    *,
    token_env: str = "MASTODON_TOKEN",
    poll_seconds: float = 10.0,
    duration: float | None = None,
    max_events: int | None = None,
    quiet: bool = False,
    backoff: Backoff | None = None,
    commit_seconds: float = 1.0,
    idle_timeout: float = 60.0,
    timeout: float = 30.0,
) -> dict:
    """Record `instance`'s public timeline into `out` until a stop rule fires; returns the run's counts."""
    parts = urlsplit(instance)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"--instance {instance!r}: expected an http:// or https:// URL")
    if max_events is not None and max_events < 1 or duration is not None and duration <= 0:
        raise UserError("--max-events and --duration must be positive")
    require("httpx_sse")
    token = os.environ.get(token_env) or None

    async def main() -> dict:
        stopper, counters = Stopper(duration, max_events), Counters()
        listener = MastodonListener(
            instance,
            Path(out),
            token,
            stopper,
            counters,
            poll_seconds=poll_seconds,
            backoff=backoff or Backoff(base=1.0),
            commit_seconds=commit_seconds,
            idle_timeout=idle_timeout,
            timeout=timeout,
        )
        try:
            await run_until_stopped(stopper, counters, listener.run, quiet)
        finally:
            listener.close()
        return {**counters.result(), "stopped": stopper.reason, "cursor": listener.cursor, "mode": listener.mode}

    return asyncio.run(main())
