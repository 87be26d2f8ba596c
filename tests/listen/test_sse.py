"""The bounded server-sent-events reader: any chunking gives the same events; long lines and large
events are dropped whole and counted, the events around them kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smileynet.listen.sse import EventStream

ENDS = st.sampled_from([b"\n", b"\r\n", b"\r"])
TEXT = st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
EVENT = st.tuples(
    st.sampled_from([b"", b"update", b"delete", b"status.update"]),
    st.lists(TEXT, min_size=1, max_size=4),
    st.lists(ENDS, min_size=7, max_size=7),
    st.booleans(),
)


def data_line(i: int, line: bytes) -> bytes:
    """A data line, with or without the one space the reader strips."""
    return b"data:" + (b" " if i % 2 or line.startswith(b" ") else b"") + line


def encode(events: list) -> tuple[bytes, list[tuple[bytes, list[bytes]]]]:
    """The wire bytes of `events` (with heartbeats between) and what each event carries."""
    wire = bytearray(b":)\n")

    def add(piece: bytes) -> None:
        if wire.endswith(b"\r") and piece.startswith(b"\n"):  # CR then LF would be one end, not two
            piece = b"\r" + piece[1:]
        wire.extend(piece)

    carried = []
    for kind, data, ends, heartbeat in events:
        if kind:
            add(b"event: " + kind + ends[0])
        for i, line in enumerate(data):
            add(data_line(i, line) + ends[1 + i])
        if heartbeat:
            add(b":thump" + ends[5])
        add(ends[6])
        carried.append((kind, data))
    return bytes(wire), carried


def feed_in_pieces(stream: EventStream, wire: bytes, cuts: list[int]) -> list[tuple[str, bytes]]:
    out, start = [], 0
    for cut in sorted(cuts) + [len(wire)]:
        out += stream.feed(wire[start:cut])
        start = cut
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(EVENT, max_size=8), st.lists(st.integers(0, 2000), max_size=12))
def test_any_chunking_gives_the_same_events(events, cuts):
    wire, carried = encode(events)
    expected = [((kind or b"message").decode(), b"\n".join(data)) for kind, data in carried]
    assert feed_in_pieces(EventStream(), wire, [c % (len(wire) + 1) for c in cuts]) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(EVENT, max_size=8), st.lists(st.integers(0, 2000), max_size=12))
def test_long_lines_drop_their_event_and_nothing_else(events, cuts):
    limit = 24
    wire, carried = encode(events)
    stream = EventStream(max_line=limit, max_event=1 << 20)
    kept = [
        ((kind or b"message").decode(), b"\n".join(data))
        for kind, data in carried
        if len(b"event: " + kind) <= limit and all(len(data_line(i, line)) <= limit for i, line in enumerate(data))
    ]
    assert feed_in_pieces(stream, wire, [c % (len(wire) + 1) for c in cuts]) == kept
    assert stream.dropped == len(carried) - len(kept)


def test_an_endless_line_holds_at_most_the_line_limit():
    stream = EventStream(max_line=1000)
    assert stream.feed(b"event: update\ndata: {") == []
    for _ in range(1000):
        assert stream.feed(b"9" * 4096) == []
        assert len(stream._line) <= 1000
    assert stream.feed(b"}\n\nevent: delete\ndata: 7\n\n") == [("delete", b"7")]
    assert stream.dropped == 1


def test_a_large_event_is_dropped_whole():
    stream = EventStream(max_line=100, max_event=250)
    wire = b"event: update\n" + b"data: " + b"x" * 90 + b"\n"
    assert stream.feed(wire * 3 + b"\n" + b"data: small\n\n") == [("message", b"small")]
    assert stream.dropped == 1
