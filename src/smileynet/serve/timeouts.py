"""A deadline on each request's headers, which uvicorn does not have.

uvicorn bounds the size of the headers (h11's incomplete-event limit, 16 KiB) and the idle time
between requests (keep-alive), but not the time the headers take: its keep-alive timer stops at
the first byte, so a client sending one byte every few seconds holds a connection forever, and
so does one that sends a request body the endpoint never reads (a slow body to `GET /`). Here
every connection must complete each request's headers within `header_timeout` seconds of
connecting or of the previous response, else it is closed. The body of an upload has its own
deadline where it is read (`serve.upload.read_upload`, answered 408).
"""

from __future__ import annotations

import asyncio
from functools import partial

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol (what its `auto` picks without httptools) plus the header deadline."""

    def __init__(self, *args, header_timeout: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._start_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a new request cycle: its headers are complete
            self._stop_header_timer()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is cycle and not self.transport.is_closing():  # waiting for the next request
            self._start_header_timer()

    def _start_header_timer(self) -> None:
        self._stop_header_timer()
        self.header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if not self.transport.is_closing():
            self.logger.info("closed a connection whose request headers took over %g s", self.header_timeout)
            self.transport.close()


def http_protocol(header_timeout: float):
    """What `uvicorn.Config(http=...)` takes; picklable, for `--workers N`."""
    return partial(HeaderTimeoutProtocol, header_timeout=header_timeout)
