"""collect drops every post whose delete notice is anywhere in its inputs, in all three notice formats."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from test_collect import JOY, bsky_event, mastodon_status, read_posts, write_lines

from smileynet.collect import collect
from smileynet.collect.post import Deletion
from smileynet.collect.records import parse_record


def v1_status(id_: str, created: str = "Thu May 25 20:08:36 +0000 2017") -> dict:
    """A minimal v1.1 status with one photo and a smiley."""
    return {
        "id": int(id_),
        "id_str": id_,
        "created_at": created,
        "text": f"photo {JOY}",
        "lang": "en",
        "user": {"id_str": "42"},
        "entities": {"hashtags": [], "urls": [], "user_mentions": []},
        "extended_entities": {
            "media": [
                {"type": "photo", "url": "https://t.co/m", "media_url_https": f"https://pbs.twimg.com/media/{id_}.jpg"}
            ]
        },
    }


def test_notices_name_posts_as_the_posts_are_keyed():
    from smileynet.collect.post import delete_key

    post = parse_record(bsky_event(rkey="3kx"))[0]
    assert parse_record(bsky_event(rkey="3kx", operation="delete"))[0] == Deletion(delete_key(post))
    status = parse_record(mastodon_status(id_="555"))[0]
    assert parse_record({"event": "delete", "payload": "555"})[0] == Deletion(delete_key(status))
    tweet = parse_record(v1_status("9001"))[0]
    assert parse_record({"delete": {"status": {"id": 9001, "id_str": "9001", "user_id_str": "42"}}})[0] == Deletion(
        delete_key(tweet)
    )


def test_deleted_posts_are_dropped_wherever_their_notice_sits(tmp_path):
    # the notices sit in a later file than the posts, one before its post, and one names nothing kept
    posts = write_lines(
        tmp_path / "a.jsonl",
        [
            v1_status("100"),
            v1_status("101"),
            bsky_event(rkey="3ka"),
            bsky_event(rkey="3kb"),
            mastodon_status(id_="7001"),
            mastodon_status(id_="7002"),
            {"event": "delete", "payload": "7002"},  # its status is above it, in the same file
        ],
    )
    notices = write_lines(
        tmp_path / "b.jsonl",
        [
            {
                "delete": {
                    "status": {"id": 100, "id_str": "100", "user_id": 42, "user_id_str": "42"},
                    "timestamp_ms": "1495743000000",
                }
            },
            bsky_event(rkey="3kb", operation="delete"),
            bsky_event(rkey="3kzzz", operation="delete"),  # a post never seen
            v1_status("102"),
        ],
    )
    late = write_lines(tmp_path / "c.jsonl", [{"delete": {"status": {"id": 102, "id_str": "102"}}}])
    report = collect([posts, notices, late], tmp_path / "out", workers=1, quiet=True)
    kept = {row["post_id"] for row in read_posts(tmp_path / "out")}
    assert kept == {
        "101",
        "at://did:plc:alice/app.bsky.feed.post/3ka",
        "https://masto.example/users/alice/statuses/7001",
    }
    files = report["files"]
    assert files[str(posts)]["dropped"]["deleted"] == 3 and files[str(posts)]["kept"] == 3
    assert files[str(notices)]["dropped"]["deleted"] == 1 and files[str(notices)]["dropped"]["not_a_post"] == 3
    assert files[str(late)]["dropped"]["not_a_post"] == 1 and files[str(late)]["read"] == 1
    assert report["totals"]["dropped"]["deleted"] == 4 and report["totals"]["read"] == 12
    saved = json.loads((tmp_path / "out" / "collect_report.json").read_text())
    assert saved["totals"]["dropped"]["deleted"] == 4


def test_deleted_copies_are_all_dropped_and_the_join_spans_many_runs(tmp_path):
    """Small runs: the notices and the candidates each span many sorted runs (the on-disk join)."""
    rng = random.Random(3)
    ids = [str(10_000 + i) for i in range(300)]
    doomed = set(rng.sample(ids, 90))
    records = [v1_status(i, created=f"Thu May 25 20:{int(i) % 60:02d}:{int(i) % 47:02d} +0000 2017") for i in ids]
    records += [v1_status(i) | {"created_at": records[ids.index(i)]["created_at"]} for i in ids[:20]]  # copies
    records += [{"delete": {"status": {"id": int(i), "id_str": i}}} for i in doomed]
    rng.shuffle(records)
    files = [write_lines(tmp_path / f"part{n}.jsonl", records[n::4]) for n in range(4)]
    report = collect(files, tmp_path / "out", workers=1, quiet=True, run_rows=7)
    kept = [row["post_id"] for row in read_posts(tmp_path / "out")]
    assert sorted(kept) == sorted(set(ids) - doomed)
    copies_doomed = len(doomed & set(ids[:20]))
    assert report["totals"]["dropped"]["deleted"] == len(doomed) + copies_doomed
    assert report["totals"]["dropped"]["duplicate"] == 20 - copies_doomed
    assert sum(f["dropped"]["deleted"] for f in report["files"].values()) == report["totals"]["dropped"]["deleted"]


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "delete",
                "status",
                "id",
                "id_str",
                "event",
                "payload",
                "did",
                "kind",
                "commit",
                "operation",
                "collection",
                "rkey",
            ]
        ),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=5),
            st.dictionaries(
                st.sampled_from(["status", "id", "id_str", "operation", "collection", "rkey"]),
                st.one_of(
                    st.none(), st.integers(), st.text(max_size=5), st.just("delete"), st.just("app.bsky.feed.post")
                ),
                max_size=4,
            ),
        ),
        max_size=5,
    )
)
def test_notice_shaped_garbage_is_a_notice_a_reason_or_malformed(obj):
    """Whatever a hostile line holds, the readers answer, or raise what collect counts as malformed."""
    from smileynet.collect.collector import BAD_DATA
    from smileynet.collect.post import Malformed

    try:
        results = parse_record(obj)
    except (Malformed, *BAD_DATA):
        return
    for result in results:
        if isinstance(result, Deletion):
            assert isinstance(result.key, str) and result.key
