"""listen mastodon: an instance's public timeline -> hourly archives of Mastodon status JSON.

First `/api/v2/instance`: an instance whose live feeds are `disabled`, or `authenticated` while
no token is set, is a one-line error naming what to pass; `configuration.urls.streaming` says
where the stream is served. Then streaming: the public stream (server-sent events), with the
token from an environment variable when one is set. A redirect is followed within the fetch
policy (`smileynet.fetch.FetchPolicy`: http or https, no private or link-local address unless
allowed); an instance that refuses the stream (401/403/404/410/422, a refused redirect) is polled
instead, said in one line: the public timeline with `min_id`, the newest status written so far.
Every (re)connection of the stream first catches up the same way, so a gap is filled and a
restart resumes. A status seen twice (once in the catch-up, once on the stream) is written once:
the ids of the last `RECENT_IDS` statuses are remembered, a bounded window, not a growing set.

Lines: each status as its JSON object; a stream `status.update` (an edit) as `{"event":
"status.update", "payload": STATUS}`, every version its own line; a stream `delete` as
`{"event": "delete", "payload": ID}`. What the stream sent while disconnected (deletes, edits)
is not in the timeline and is lost; polling sees neither.

Rate limits: Mastodon's 429 carries `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` (an ISO
8601 time), seldom `Retry-After`: the same request is sent again after the reset, without
dropping the stream or growing the backoff. A page with `X-RateLimit-Remaining: 0` waits too.

Outside input is bounded: a stream line or event over 1 MiB is a counted skip (`sse`), a page
over `MAX_PAGE_BYTES` or `PAGE` statuses is cut, a status whose id is not a decimal 63-bit
Mastodon id or whose id dates it in the future is a counted bad frame, never the cursor.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import deque
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from smileynet.errors import UserError
from smileynet.fetch import PRIVATE_KINDS, FetchPolicy
from smileynet.listen.archive import STATE, HourlyArchive, hour_path
from smileynet.listen.common import (
    FUTURE_SLACK_SECONDS,
    Backoff,
    Counters,
    Stopper,
    check_connected,
    positive,
    require,
    run_until_stopped,
    say,
)
from smileynet.listen.sse import EventStream

PAGE = 40  # the most statuses a timeline page holds
RECENT_IDS = 10_000
MAX_WAIT = 900.0  # seconds: the longest a rate limit makes us wait in one go
MIN_WAIT = 1.0  # a reset already past still waits this long: no request storm
UNHINTED_WAIT = 60.0  # a 429 that says nothing of when to come back
MAX_PAGE_BYTES = 4 << 20  # a page of 40 statuses is well under 1 MiB
MAX_INFO_BYTES = 1 << 20
MAX_REDIRECTS = 3
STABLE_SECONDS = 60.0  # a connection up this long resets the backoff even if it brought nothing
NOT_STREAMED = (401, 403, 404, 410, 422)  # the stream is not for us: poll instead
NOT_POLLED = (401, 403, 404, 410, 422)  # the timeline is not for us either: stop, saying why
MAX_ID = 2**63 - 1
NO_ENCODING = {"Accept-Encoding": "identity"}  # bodies are read raw, so a compressed one cannot inflate


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited: waiting {wait:.0f} s")
        self.wait = wait


def status_id(value: Any, now: float | None = None) -> int | None:
    """A Mastodon status id as a number, or None when it is not one: decimal text of a 63-bit
    number whose time part (the bits above 16, milliseconds) is not in the future."""
    if not isinstance(value, str) or not 0 < len(value) <= 19 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    now = time.time() if now is None else now
    if number > MAX_ID or (number >> 16) / 1000 > now + FUTURE_SLACK_SECONDS:
        return None
    return number


def rate_limit_wait(response: Any, now: float | None = None) -> float | None:
    """Seconds the instance asks us to wait before the next request, or None when it does not say."""
    now = time.time() if now is None else now
    headers = response.headers
    if response.status_code in (429, 503) and "retry-after" in headers:
        value = headers["retry-after"].strip()
        if value.isdigit():
            return min(float(value), MAX_WAIT)
        try:
            return min(max(parsedate_to_datetime(value).timestamp() - now, 0.0), MAX_WAIT)
        except (TypeError, ValueError):
            pass  # X-RateLimit-Reset may still say
    if headers.get("x-ratelimit-remaining", "").strip() == "0" and "x-ratelimit-reset" in headers:
        value = headers["x-ratelimit-reset"].strip()
        try:
            reset = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if reset.tzinfo is None:
            reset = reset.replace(tzinfo=UTC)
        return min(max(reset.timestamp() - now, 0.0), MAX_WAIT)
    return None


def limited_wait(response: Any) -> float:
    """How long a 429 makes us wait: what its headers say, at least `MIN_WAIT`; `UNHINTED_WAIT` when silent."""
    wait = rate_limit_wait(response)
    return UNHINTED_WAIT if wait is None else max(wait, MIN_WAIT)


def streaming_base(url: Any) -> str | None:
    """`configuration.urls.streaming` (wss://host) as the http(s) base the SSE stream lives under."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    scheme = {"wss": "https", "ws": "http", "https": "https", "http": "http"}.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        return None
    return parts._replace(scheme=scheme).geturl().rstrip("/")


async def read_body(response: Any, limit: int, what: str) -> bytes:
    """The raw body, refused past `limit` bytes (a larger Content-Length is refused unread)."""
    if response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        raise ValueError(f"{what} came compressed although we asked for none")
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise ValueError(f"{what} is over {limit:,} bytes")
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > limit:
            raise ValueError(f"{what} is over {limit:,} bytes")
    return bytes(body)


class MastodonListener:
    def __init__(
        self,
        instance: str,
        out: Path,
        token: str | None,
        token_env: str,
        stopper: Stopper,
        counters: Counters,
        *,
        poll_seconds: float,
        backoff: Backoff,
        commit_seconds: float,
        idle_timeout: float,
        timeout: float,
        policy: FetchPolicy,
    ) -> None:
        self.instance = instance.rstrip("/")
        self.archive = HourlyArchive(out, "mastodon")
        self.token, self.token_env = token, token_env
        self.token_hosts = {urlsplit(self.instance).hostname}
        self.stream_url = f"{self.instance}/api/v1/streaming/public"
        self.stopper, self.counters, self.backoff = stopper, counters, backoff
        self.poll_seconds, self.commit_seconds = poll_seconds, commit_seconds
        self.idle_timeout, self.timeout, self.policy = idle_timeout, timeout, policy
        self.last_id: int | None = self._saved_id(out)
        self.recent: deque[int] = deque(maxlen=RECENT_IDS)
        self.recent_set: set[int] = set()
        self.mode = "stream"
        self.dirty = False

    def _saved_id(self, out: Path) -> int | None:
        saved = self.archive.cursor
        if saved is None:
            return None
        number = status_id(saved.get("id")) if isinstance(saved, dict) else None
        if number is None:
            raise UserError(
                f"{out / STATE}: the saved cursor {saved!r} is not a Mastodon status id of the past: "
                "move the file away to record afresh"
            )
        return number

    @property
    def cursor(self) -> dict | None:
        return None if self.last_id is None else {"id": str(self.last_id)}

    def _headers(self, url: str) -> dict[str, str]:
        """The token goes to the instance and the streaming host it names, nowhere else."""
        if self.token and urlsplit(url).hostname in self.token_hosts:
            return {**NO_ENCODING, "Authorization": f"Bearer {self.token}"}
        return NO_ENCODING

    def _token_hint(self) -> str:
        if self.token:
            return f"the access token in ${self.token_env} was refused: check it (scope read:statuses)"
        return (
            f"set ${self.token_env} to an access token of an account on it (scope read:statuses), "
            "or name another variable with --token-env"
        )

    async def run(self) -> None:
        import httpx

        timeout = httpx.Timeout(self.timeout, read=self.idle_timeout)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            await self._discover(client)
            committer = asyncio.create_task(self._commit_often())
            try:
                while not self.stopper.event.is_set():
                    written, began = self.counters.written, time.monotonic()
                    try:
                        if self.mode == "stream":
                            await self._stream(client)
                            if self.mode == "poll":
                                continue  # no failure: polling starts now
                        else:
                            await self._poll(client, forever=True)
                    except RateLimited as limited:
                        self.counters.failed(limited)
                        await self._sleep(limited.wait)
                        continue
                    except (httpx.HTTPError, ValueError, TimeoutError) as err:  # refused, reset, timeout, a bad page
                        self.counters.failed(f"{type(err).__name__}: {err}")
                    self._commit()
                    if self.stopper.event.is_set():
                        break
                    if self.counters.written > written or time.monotonic() - began >= STABLE_SECONDS:
                        self.backoff.reset()  # progress: a peer that only connects and closes earns none
                    await self._sleep(self.backoff.delay())
            finally:
                committer.cancel()

    async def _discover(self, client: Any) -> None:
        """Read /api/v2/instance: stop now if its live feeds are closed to us, and learn the
        streaming host. An instance without it (older, or not answering) is streamed from itself."""
        import httpx
        import orjson

        try:
            async with asyncio.timeout(self.timeout):
                async with client.stream("GET", f"{self.instance}/api/v2/instance", headers=NO_ENCODING) as response:
                    if response.status_code != 200:
                        return
                    self.counters.answered = True
                    info = orjson.loads(await read_body(response, MAX_INFO_BYTES, "/api/v2/instance"))
        except (httpx.HTTPError, ValueError, TimeoutError):
            return
        configuration = info.get("configuration") if isinstance(info, dict) else None
        if not isinstance(configuration, dict):
            return
        access = configuration.get("timelines_access")
        feeds = access.get("live_feeds") if isinstance(access, dict) else None
        if isinstance(feeds, dict):
            shown = ", ".join(f"{key} {feeds.get(key)}" for key in ("local", "remote"))
            if "disabled" in (feeds.get("local"), feeds.get("remote")):
                raise UserError(
                    f"{self.instance} has switched its live feeds off (live_feeds: {shown}): choose another instance"
                )
            if "authenticated" in (feeds.get("local"), feeds.get("remote")) and not self.token:
                raise UserError(
                    f"{self.instance} shows its live feeds to logged-in accounts only (live_feeds: {shown}): "
                    + self._token_hint()
                )
        urls = configuration.get("urls")
        base = streaming_base(urls.get("streaming") if isinstance(urls, dict) else None)
        if base is not None and urlsplit(base).hostname != urlsplit(self.instance).hostname:
            reason = await self._refusal(base)
            if reason is not None:
                self._to_poll(f"the streaming host {urlsplit(base).hostname} is refused ({reason})")
                return
            self.token_hosts.add(urlsplit(base).hostname)
        if base is not None:
            self.stream_url = f"{base}/api/v1/streaming/public"

    async def _refusal(self, url: str) -> str | None:
        """Why the fetch policy refuses a URL the instance gave us, or None when it allows it."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "not http or https"
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
            )
        except OSError as err:
            return f"cannot resolve it: {err}"
        for *_, sockaddr in infos:
            reason = self.policy.refusal(str(sockaddr[0]))
            if reason is not None:
                return reason + (" (--allow-private-network allows it)" if reason in PRIVATE_KINDS else "")
        return None

    def _to_poll(self, why: str) -> None:
        self.mode = "poll"
        say(f"{why}: polling the public timeline every {self.poll_seconds:g} s instead (no deletes, no edits)")

    async def _stream(self, client: Any) -> None:
        """One streaming connection: catch up by polling, then write events until it ends."""
        url = self.stream_url
        for _ in range(MAX_REDIRECTS + 1):
            request = client.build_request("GET", url, headers={**self._headers(url), "Accept": "text/event-stream"})
            response = await client.send(request, stream=True)
            if not response.is_redirect:
                break
            await response.aclose()
            target = urljoin(url, response.headers.get("location", ""))
            reason = await self._refusal(target)
            if reason is not None:
                self._to_poll(f"the stream redirects to {urlsplit(target).hostname or target!r}, refused ({reason})")
                return
            url = target
        else:
            await response.aclose()
            self._to_poll(f"the stream redirects more than {MAX_REDIRECTS} times")
            return
        try:
            if response.status_code in NOT_STREAMED:
                self._to_poll(f"the stream answered {response.status_code}")
                return
            if response.status_code == 429:
                self.counters.answered = True
                raise RateLimited(limited_wait(response))
            response.raise_for_status()
            self.stream_url = url  # a redirect followed once is not asked again
            self.counters.connections += 1
            await self._poll(client, forever=False)  # the gap since the last status written
            if self.stopper.event.is_set():
                return
            await self._read_stream(response)
        finally:
            await response.aclose()

    async def _read_stream(self, response: Any) -> None:
        import orjson

        if response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
            raise ValueError("the stream came compressed although we asked for none")
        events = EventStream()
        async for chunk in response.aiter_raw():
            for kind, data in events.feed(chunk):
                if kind == "delete":
                    if status_id(data.decode("ascii", "replace")) is None:
                        self.counters.bad_frames += 1
                        continue
                    self._write_line(orjson.dumps({"event": "delete", "payload": data.decode()}))
                    self.counters.deletes += 1
                elif kind in ("update", "status.update"):
                    try:
                        status = orjson.loads(data)
                    except orjson.JSONDecodeError:
                        status = None
                    if not isinstance(status, dict) or status_id(status.get("id")) is None:
                        self.counters.bad_frames += 1
                        continue
                    if b"\n" in data:  # the data came on several lines: one line on disk
                        data = orjson.dumps(status)
                    if kind == "update":
                        self._write_status(status, data)
                    else:  # an edit: every version is kept, none is a repeat
                        self._write_line(b'{"event":"status.update","payload":' + data + b"}")
                        self.counters.edits += 1
                if self.stopper.full(self.counters):
                    return
            self.counters.bad_frames += events.dropped
            events.dropped = 0

    async def _poll(self, client: Any, forever: bool) -> None:
        """Timeline pages newer than the last status written, oldest first; `forever`: keep polling."""
        import orjson

        if not forever and self.last_id is None:
            return  # a first stream starts now: nothing to catch up
        counted = not forever  # a stream connection was counted already
        while not self.stopper.event.is_set():
            params: dict[str, Any] = {"limit": PAGE, **({"min_id": str(self.last_id)} if self.last_id else {})}
            async with asyncio.timeout(self.timeout):
                async with client.stream(
                    "GET",
                    f"{self.instance}/api/v1/timelines/public",
                    params=params,
                    headers=self._headers(self.instance),
                ) as response:
                    if response.status_code == 429:
                        self.counters.answered = True
                        wait: float | None = limited_wait(response)
                        self.counters.failed(f"the timeline is rate limited: waiting {wait:.0f} s")
                        page = None
                    elif response.status_code in NOT_POLLED:
                        raise UserError(
                            f"{self.instance}/api/v1/timelines/public answered {response.status_code}: "
                            + self._token_hint()
                        )
                    else:
                        response.raise_for_status()
                        wait = rate_limit_wait(response)
                        page = orjson.loads(await read_body(response, MAX_PAGE_BYTES, "a timeline page"))
            if page is None:
                await self._sleep(wait or MIN_WAIT)
                continue
            if not isinstance(page, list):
                raise ValueError("the timeline is not a JSON list")
            if not counted:
                self.counters.connections += 1
                counted = True
            written = self.counters.written
            for number, status in self._oldest_first(page):
                self._write_status(status, orjson.dumps(status), number)
                if self.stopper.full(self.counters):
                    return
            if wait:  # the limit is spent: wait for its reset before the next page
                await self._sleep(max(wait, MIN_WAIT))
            elif len(page) < PAGE or self.counters.written == written:
                if not forever:
                    return
                await self._sleep(self.poll_seconds)

    def _oldest_first(self, page: list) -> list[tuple[int, dict]]:
        """The page's statuses by id, at most `PAGE` (the oldest: the rest come on the next page)."""
        valid = []
        for status in page:
            number = status_id(status.get("id")) if isinstance(status, dict) else None
            if number is None:
                self.counters.bad_frames += 1
            else:
                valid.append((number, status))
        valid.sort(key=lambda pair: pair[0])
        return valid[:PAGE]

    def _write_status(self, status: dict, line: bytes, number: int | None = None) -> None:
        number = status_id(status["id"]) if number is None else number
        assert number is not None, "checked by the caller"
        if number in self.recent_set:
            self.counters.repeats += 1
            return
        if len(self.recent) == self.recent.maxlen:
            self.recent_set.discard(self.recent[0])
        self.recent.append(number)
        self.recent_set.add(number)
        self._write_line(line)
        if self.last_id is None or number > self.last_id:
            self.last_id = number
        media = status.get("media_attachments")
        if isinstance(media, list):
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
    allow_private_network: bool = False,
    backoff: Backoff | None = None,
    commit_seconds: float = 1.0,
    idle_timeout: float = 60.0,
    timeout: float = 30.0,
) -> dict:
    """Record `instance`'s public timeline into `out` until a stop rule fires; returns the run's counts."""
    parts = urlsplit(instance)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"--instance {instance!r}: expected an http:// or https:// URL")
    positive("--poll-seconds", poll_seconds)
    positive("--duration", duration)
    if max_events is not None and max_events < 1:
        raise UserError(f"--max-events must be 1 or more, not {max_events}")
    require("httpx")
    token = os.environ.get(token_env) or None

    async def main() -> dict:
        stopper, counters = Stopper(duration, max_events), Counters()
        listener = MastodonListener(
            instance,
            Path(out),
            token,
            token_env,
            stopper,
            counters,
            poll_seconds=poll_seconds,
            backoff=backoff or Backoff(base=1.0),
            commit_seconds=commit_seconds,
            idle_timeout=idle_timeout,
            timeout=timeout,
            policy=FetchPolicy(allow_private_network=allow_private_network),
        )
        try:
            await run_until_stopped(stopper, counters, listener.run, quiet)
        finally:
            listener.close()
        check_connected(counters, f"listen mastodon {instance}")
        return {**counters.result(), "stopped": stopper.reason, "cursor": listener.cursor, "mode": listener.mode}

    return asyncio.run(main())
