"""listen mastodon against a loopback instance shaped like the real API: polling with min_id, Mastodon's
429s, the stream with a token, edits, redirects to a streaming host, closed timelines."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from listen_servers import MastodonServer, lines_on_disk, mastodon_statuses

from smileynet.errors import UserError
from smileynet.listen.common import Backoff
from smileynet.listen.mastodon import listen_mastodon, rate_limit_wait

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
