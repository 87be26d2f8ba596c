"""Server-sent events parsed from raw bytes in bounded memory, however the peer chunks them.

httpx-sse reads lines through httpx's line decoder, which holds a line until its end: a peer that
never sends a newline fills the memory. Here a line longer than `max_line` bytes, or an event
whose data passes `max_event` bytes, is dropped whole (counted in `dropped`) and what follows it
is read as usual. Lines end in CR, LF or CRLF (a CRLF split across two chunks is one end).
Comments (`:` lines, the heartbeats) are skipped; `id` and `retry` are not needed and ignored.
"""

from __future__ import annotations

MAX_LINE = 1 << 20  # bytes; a Mastodon status is a few KiB of JSON
MAX_EVENT = 1 << 20


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
        if not chunk:
            return events
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")  # C speed; the last piece is the start of an unfinished line
        rest = lines.pop()
        if lines:
            first = lines[0]
            if self._overlong or len(self._line) + len(first) > self.max_line:
                lines[0] = b":"  # dropped: the event it belongs to is broken
                self._broken = True
            elif self._line:
                self._line += first
                lines[0] = bytes(self._line)
            self._overlong = False
            self._line.clear()
        for line in lines:
            if line[:1] == b":":  # a comment: the heartbeats, which may come by the thousand
                continue
            if len(line) > self.max_line:
                self._broken = True
            else:
                self._field(line, events)
        if self._overlong or len(self._line) + len(rest) > self.max_line:
            self._overlong = True
            self._line.clear()
        else:
            self._line += rest
        return events

    def _field(self, line: bytes, events: list[tuple[str, bytes]]) -> None:
        if not line:  # a blank line ends the event
            if self._broken:
                self.dropped += 1
            elif self._data:
                events.append((self._kind.decode("utf-8", "replace") or "message", b"\n".join(self._data)))
            self._kind, self._data, self._size, self._broken = b"", [], 0, False
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
