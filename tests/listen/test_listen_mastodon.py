"""listen mastodon against a loopback instance shaped like the real API: polling with min_id, Mastodon's
429s, the stream with a token, edits, redirects to a streaming host, closed timelines."""

from __future__ import annotations

import json
import socket
import time
import tracemalloc

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from listen_servers import MastodonServer, lines_on_disk, mastodon_statuses

from smileynet.errors import UserError
from smileynet.listen.common import Backoff
from smileynet.listen.mastodon import listen_mastodon, rate_limit_wait, status_id

FAST = {
    "backoff": Backoff(base=0.01, cap=0.05),
    "commit_seconds": 0.1,
    "quiet": True,
    "poll_seconds": 0.02,
    "timeout": 5.0,
    "idle_timeout": 5.0,
    "token_env": "SMILEYNET_TEST_MASTODON_TOKEN",
}


def status_ids(lines: list[str]) -> list[str]:
    return [json.loads(line)["id"] for line in lines if '"event"' not in line[:12]]


def test_polls_the_timeline_with_min_id_and_waits_out_a_429(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    statuses = mastodon_statuses(50)
    backoff = Backoff(base=0.01, cap=0.05)
    with MastodonServer(statuses, token="secret", published=3, per_request=6, limited=(2,)) as server:
        result = listen_mastodon(server.url, tmp_path, max_events=50, **{**FAST, "backoff": backoff})
    lines = lines_on_disk(tmp_path)
    assert status_ids(lines) == [s["id"] for s in statuses]  # each once, oldest first
    assert [json.loads(line) for line in lines] == statuses  # the status JSON itself
    assert result["mode"] == "poll" and result["posts_with_images"] == 17
    times = [t for t, _, _ in server.timeline_requests]
    codes = [code for _, _, code in server.timeline_requests]
    assert codes[2] == 429 and times[3] - times[2] >= 0.8  # X-RateLimit-Reset (1 s ahead) was waited for
    assert server.timeline_requests[3][1] == server.timeline_requests[2][1]  # the same page asked again
    assert result["reconnects"] == 0 and backoff.failures == 0  # a rate limit is no failure to back off from
    err = capsys.readouterr().err
    assert "the stream answered 401: polling the public timeline every 0.02 s" in err
    assert "rate limited: waiting 1 s" in err
    assert "min_id" not in server.timeline_requests[0][1]
    assert all("min_id" in query for _, query, _ in server.timeline_requests[1:])


def test_restart_resumes_from_the_newest_status(tmp_path, monkeypatch):
    monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    statuses = mastodon_statuses(45)
    with MastodonServer(statuses, token="secret", published=2, per_request=5) as server:
        listen_mastodon(server.url, tmp_path, max_events=20, **FAST)
        listen_mastodon(server.url, tmp_path, max_events=25, **FAST)
    assert status_ids(lines_on_disk(tmp_path)) == [s["id"] for s in statuses]


def test_stream_with_token_catches_up_after_a_cut(tmp_path, monkeypatch):
    monkeypatch.setenv("SMILEYNET_TEST_MASTODON_TOKEN", "secret")
    statuses = mastodon_statuses(60)
    # the first catch-up request (after the cut) is rate limited: waited out, the stream kept
    with MastodonServer(statuses, token="secret", stream_plan=(20,), gap=5, limited=(0,)) as server:
        result = listen_mastodon(server.url, tmp_path, max_events=60 + 2 + 17, **FAST)
    lines = lines_on_disk(tmp_path)
    assert sorted(status_ids(lines)) == [s["id"] for s in statuses]  # each once, the gap included
    deletes = [json.loads(line) for line in lines if line.startswith('{"event":"delete"')]
    assert deletes == [{"event": "delete", "payload": d} for d in server.deleted] and len(deletes) == 2
    edits = [json.loads(line) for line in lines if line.startswith('{"event":"status.update"')]
    assert (
        edits == [{"event": "status.update", "payload": e} for e in server.edited] and len(edits) == 17
    )  # 6 + 11: every third status of each connection
    assert len(lines) == 60 + 2 + 17
    assert result["mode"] == "stream" and result["reconnects"] == 1 and result["deletes"] == 2
    assert result["edits"] == 17
    assert [code for _, _, code in server.timeline_requests][:2] == [429, 200]
    assert server.timeline_requests[0][1] == server.timeline_requests[1][1]  # the gap came by polling


def test_collect_reads_the_recording_as_it_reads_the_replayed_file(tmp_path, monkeypatch):
    from smileynet.collect.collector import collect

    monkeypatch.setenv("SMILEYNET_TEST_MASTODON_TOKEN", "secret")
    statuses = mastodon_statuses(30)
    recording = tmp_path / "recording"
    with MastodonServer(statuses, token="secret", stream_plan=(12,)) as server:
        listen_mastodon(server.url, recording, max_events=32 + len(statuses) // 3, **FAST)
    single = tmp_path / "replayed.jsonl"
    single.write_text("\n".join(lines_on_disk(recording)) + "\n")
    a = collect([recording], tmp_path / "a", workers=1, quiet=True)
    b = collect([single], tmp_path / "b", workers=1, quiet=True)
    assert a["totals"] == b["totals"] and a["totals"]["kept"] == 10 - len(server.deleted)
    assert a["totals"]["dropped"]["deleted"] == 2
    assert pq.read_table(tmp_path / "a" / "posts.parquet").equals(pq.read_table(tmp_path / "b" / "posts.parquet"))


def test_rate_limit_headers():
    class Response:
        def __init__(self, code: int, headers: dict) -> None:
            self.status_code, self.headers = code, {k.lower(): v for k, v in headers.items()}

    assert rate_limit_wait(Response(429, {"Retry-After": "7"})) == 7
    assert rate_limit_wait(Response(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}), now=1445412480) == 10
    assert (
        rate_limit_wait(
            Response(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2015-10-21T07:28:30.000Z"}),
            now=1445412480,
        )
        == 30
    )
    assert rate_limit_wait(Response(200, {"X-RateLimit-Remaining": "3"})) is None
    assert rate_limit_wait(Response(429, {"Retry-After": "999999"})) == 900
    mastodon_429 = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "2015-10-21T07:30:00.000000Z",
    }
    assert rate_limit_wait(Response(429, mastodon_429), now=1445412480) == 120  # no Retry-After: the reset
    assert rate_limit_wait(Response(429, {**mastodon_429, "Retry-After": "soon"}), now=1445412480) == 120
    assert rate_limit_wait(Response(429, {"X-RateLimit-Reset": "tomorrow", "X-RateLimit-Remaining": "0"})) is None


def test_bad_instance_is_one_line_error(tmp_path):
    with pytest.raises(UserError, match="http"):
        listen_mastodon("ftp://example.org", tmp_path)


def test_the_stream_is_read_from_the_streaming_host_the_instance_names(tmp_path, monkeypatch):
    monkeypatch.setenv("SMILEYNET_TEST_MASTODON_TOKEN", "secret")
    statuses = mastodon_statuses(20)
    with MastodonServer(statuses, token="secret", streaming_host=True) as server:
        result = listen_mastodon(server.url, tmp_path, max_events=20 + 1 + 6, allow_private_network=True, **FAST)
    assert server.stream_hosts == ["127.0.0.2"]  # the token went there: the instance named that host
    assert status_ids(lines_on_disk(tmp_path)) == [s["id"] for s in statuses]
    assert result["mode"] == "stream" and result["edits"] == 6


def test_a_301_to_the_streaming_host_is_followed(tmp_path, monkeypatch):
    monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    statuses = mastodon_statuses(12)
    with MastodonServer(statuses, streaming_host=True, instance_info=False) as server:
        result = listen_mastodon(server.url, tmp_path, max_events=12 + 1 + 4, allow_private_network=True, **FAST)
    assert server.stream_hosts == ["127.0.0.2"] and result["mode"] == "stream"
    assert status_ids(lines_on_disk(tmp_path)) == [s["id"] for s in statuses]


def test_a_redirect_outside_the_fetch_policy_is_not_followed_and_the_timeline_polled(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    statuses = mastodon_statuses(15)
    with MastodonServer(statuses, streaming_host=True, instance_info=False, published=5, per_request=5) as server:
        result = listen_mastodon(server.url, tmp_path, max_events=15, **FAST)
    assert server.stream_hosts == [] and result["mode"] == "poll"
    assert status_ids(lines_on_disk(tmp_path)) == [s["id"] for s in statuses]
    assert "refused (loopback address (--allow-private-network allows it)): polling" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("feeds", "token", "message"),
    [
        ({"local": "authenticated", "remote": "authenticated"}, None, "logged-in accounts only.*SMILEYNET_TEST"),
        ({"local": "public", "remote": "authenticated"}, None, "--token-env"),
        ({"local": "disabled", "remote": "disabled"}, "secret", "switched its live feeds off"),
    ],
)
def test_live_feeds_closed_to_us_are_one_line_errors(tmp_path, monkeypatch, feeds, token, message):
    if token:
        monkeypatch.setenv("SMILEYNET_TEST_MASTODON_TOKEN", token)
    else:
        monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    with MastodonServer(mastodon_statuses(5), live_feeds=feeds) as server:
        with pytest.raises(UserError, match=message) as raised:
            listen_mastodon(server.url, tmp_path, duration=10, **FAST)
    assert "\n" not in str(raised.value)
    assert server.timeline_requests == [] and server.stream_connections == 0  # asked nothing more


def test_a_timeline_that_wants_a_token_is_one_line_error(tmp_path, monkeypatch):
    monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    with MastodonServer(mastodon_statuses(5), token="t", timeline_token="t") as server:
        with pytest.raises(UserError, match="answered 401: set \\$SMILEYNET_TEST_MASTODON_TOKEN"):
            listen_mastodon(server.url, tmp_path, duration=10, **FAST)
    monkeypatch.setenv("SMILEYNET_TEST_MASTODON_TOKEN", "wrong")
    with MastodonServer(mastodon_statuses(5), token="t", timeline_token="t") as server:
        with pytest.raises(UserError, match="token in \\$SMILEYNET_TEST_MASTODON_TOKEN was refused"):
            listen_mastodon(server.url, tmp_path, duration=10, **FAST)


def test_an_instance_that_never_answers_is_an_error_that_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    with closed, pytest.raises(UserError, match="never connected.*ConnectError"):
        listen_mastodon(f"http://127.0.0.1:{closed.getsockname()[1]}", tmp_path, duration=1, **FAST)
    assert "listen: ConnectError" in capsys.readouterr().err  # printed as it happened, not only kept


def test_ids_and_fields_that_are_not_mastodon_s_are_skipped_never_the_cursor(tmp_path, monkeypatch):
    monkeypatch.delenv("SMILEYNET_TEST_MASTODON_TOKEN", raising=False)
    good = mastodon_statuses(6)
    good[3]["media_attachments"] = 5  # a wrong type (good[3] had a picture): written, with no image
    future = str(((int(time.time()) + 86_400 * 365) * 1000) << 16)
    bad = [
        {**good[0], "id": "9" * 40},
        {**good[0], "id": str(2**63)},
        {**good[0], "id": "abc"},
        {**good[0], "id": 12},
        {**good[0], "id": future},
        ["not", "a", "status"],
    ]
    with MastodonServer(good + bad, token="secret", published=len(good) + len(bad)) as server:
        server.statuses = sorted(good, key=lambda s: int(s["id"])) + bad  # the page holds all of them at once
        result = listen_mastodon(server.url, tmp_path, duration=1.5, **FAST)
    assert status_ids(lines_on_disk(tmp_path)) == [s["id"] for s in good]
    assert result["bad_frames"] >= len(bad) and result["cursor"] == {"id": good[-1]["id"]}
    assert result["posts_with_images"] == 1  # good[0]; good[3]'s media is not a list


def test_a_poisoned_state_is_one_line_error(tmp_path):
    from smileynet.listen.archive import STATE

    for text, message in [
        ("{not json", "is not JSON"),
        ('{"kind": "mastodon", "cursor": {"id": "1"}, "file": null, "offset": -1}', "not a listen state"),
        ('{"kind": "mastodon", "cursor": {"id": "zz"}, "file": null, "offset": 0}', "not a Mastodon status id"),
        (
            json.dumps({"kind": "mastodon", "cursor": {"id": str(2**63 - 1)}, "file": None, "offset": 0}),
            "not a Mastodon",
        ),
    ]:
        (tmp_path / STATE).write_text(text)
        with pytest.raises(UserError, match=message):
            listen_mastodon("http://127.0.0.1:9", tmp_path, duration=1, **FAST)


@pytest.mark.parametrize("hostile", ["endless line", "ping flood", "endless page"])
def test_memory_stays_flat_whatever_the_instance_sends(tmp_path, monkeypatch, hostile):
    monkeypatch.setenv("SMILEYNET_TEST_MASTODON_TOKEN", "" if hostile == "endless page" else "secret")
    with MastodonServer(mastodon_statuses(3), token="secret", hostile=hostile) as server:
        tracemalloc.start()
        try:
            result = listen_mastodon(server.url, tmp_path, duration=3, **FAST)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # the peer sent far more than the listener may hold (heartbeats are parsed slowest: 7 bytes a line)
    assert server.sent > (6 << 20 if hostile == "ping flood" else 24 << 20), server.sent
    assert peak < 16 << 20, f"{peak / 2**20:.1f} MiB held after {server.sent / 2**20:.0f} MiB sent"
    assert result["events"] == 0
    if hostile == "endless page":
        assert "over 4,194,304 bytes" in result["last_errors"][-1]


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=25),
        st.integers(0, 2**64).map(str),
        st.integers(),
        st.none(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_status_id_takes_anything_and_answers_a_past_63_bit_id_or_none(value):
    number = status_id(value, now=1_733_000_000)
    if number is not None:
        assert isinstance(value, str) and value.isascii() and int(value) == number
        assert 0 <= number <= 2**63 - 1 and (number >> 16) / 1000 <= 1_733_000_000 + 300


@settings(max_examples=300, deadline=None)
@given(
    st.integers(100, 599),
    st.dictionaries(
        st.sampled_from(["retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"]), st.text(max_size=40)
    ),
)
def test_rate_limit_wait_takes_any_header_and_answers_a_bounded_wait_or_none(code, headers):
    class Response:
        status_code = code

    Response.headers = headers
    wait = rate_limit_wait(Response(), now=1_733_000_000)
    assert wait is None or 0 <= wait <= 900
