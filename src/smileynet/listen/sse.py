"""Server-sent events parsed from raw bytes in bounded memory, however the peer chunks them.

httpx-sse reads lines through httpx's line decoder, which holds a line until its end: a peer that
never sends a newline fills the memory. Here a line longer than `max_line` bytes, or an event
whose data passes `max_event` bytes, is dropped whole (counted in `dropped`) and what follows it
is read as usual. Lines end in CR, LF or CRLF (a CRLF split across two chunks is one end).
Comments (`:` lines, the heartbeats) are skipped; `id` and `retry` are not needed and ignored.
"""

from __future__ import annotations

import re

MAX_LINE = 1 << 20  # bytes; a Mastodon status is a few KiB of JSON
MAX_EVENT = 1 << 20
_END = re.compile(rb"\r\n|\r|\n")


class EventStream:
    """Feed it chunks; it returns the complete events as (event type, data) pairs."""

    def __init__(self, max_line: int = MAX_LINE, max_event: int = MAX_EVENT) -> None:
        self.max_line, self.max_event = max_line, max_event
        self.dropped = 0  # events lost to an over-long line or over-large data
        self._line = bytearray()  # the unfinished line
        self._overlong = False  # the unfinished line is past max_line: skip to its end
        self._skip_lf = False  # the last chunk ended in CR: a LF first in the next one ends nothing
        self._kind = b""
        self._data: list[bytes] = []
        self._size = 0
        self._broken = False  # the event being read lost a line or passed max_event

    def feed(self, chunk: bytes) -> list[tuple[str, bytes]]:
        events: list[tuple[str, bytes]] = []
        start = 1 if self._skip_lf and chunk[:1] == b"\n" else 0
        self._skip_lf = chunk.endswith(b"\r")
        for end in _END.finditer(chunk, start):
            self._end_line(chunk, start, end.start(), events)
            start = end.end()
        rest = len(chunk) - start
        if rest:
            if self._overlong or len(self._line) + rest > self.max_line:
                self._overlong = True
                self._line.clear()
            else:
                self._line += chunk[start:]
        return events

    def _end_line(self, chunk: bytes, start: int, end: int, events: list[tuple[str, bytes]]) -> None:
        if self._overlong or len(self._line) + end - start > self.max_line:
            self._overlong = False
            self._line.clear()
            self._broken = True
            return
        if self._line:
            self._line += chunk[start:end]
            line = bytes(self._line)
            self._line.clear()
        else:
            line = chunk[start:end]
        self._field(line, events)

    def _field(self, line: bytes, events: list[tuple[str, bytes]]) -> None:
        if not line:  # a blank line ends the event
            if self._broken:
                self.dropped += 1
            elif self._data:
                events.append((self._kind.decode("utf-8", "replace") or "message", b"\n".join(self._data)))
            self._kind, self._data, self._size, self._broken = b"", [], 0, False
            return
        if line[:1] == b":":
            return
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._size += len(value) + 1
            if self._size > self.max_event:
                self._broken = True
                self._data.clear()
            elif not self._broken:
                self._data.append(value)
        elif name == b"event":
            self._kind = value
