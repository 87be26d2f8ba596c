"""Sensitive posts, image alt text and Mastodon edits, on records built from each platform's
documented shapes (and the real Twitter payloads in the shared fixtures)."""

from __future__ import annotations

import copy
import json
import sys
import tarfile
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_collect import JOY, V1, V2, bsky_event, read_posts, v1_photo, v2_page, write_lines

from smileynet.collect import collect
from smileynet.collect.post import Post
from smileynet.collect.records import parse_record
from smileynet.collect.schema import DROP_REASONS
from smileynet.files import read_config

HEARTS = "\U0001f60d"


def status(
    id_: str = "110",
    content: str = f"<p>sunny {JOY}</p>",
    edited_at: str | None = None,
    sensitive: bool = False,
    spoiler_text: str = "",
    description: str | None = "a dog on a beach",
    created_at: str = "2024-06-01T12:00:00.000Z",
) -> dict:
    """A Mastodon status as docs.joinmastodon.org/entities/Status describes it (REST, streaming payload)."""
    return {
        "id": id_,
        "created_at": created_at,
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": sensitive,
        "spoiler_text": spoiler_text,
        "visibility": "public",
        "language": "en",
        "uri": f"https://masto.example/users/alice/statuses/{id_}",
        "url": f"https://masto.example/@alice/{id_}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": edited_at,
        "content": content,
        "reblog": None,
        "application": {"name": "Web", "website": None},
        "account": {"id": "7", "username": "alice", "acct": "alice", "url": "https://masto.example/@alice"},
        "media_attachments": [
            {
                "id": "22",
                "type": "image",
                "url": f"https://files.masto.example/media/{id_}.jpg",
                "preview_url": f"https://files.masto.example/small/{id_}.jpg",
                "remote_url": None,
                "meta": {"original": {"width": 640, "height": 480, "size": "640x480", "aspect": 1.33}},
                "description": description,
                "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}",
            }
        ],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def update(payload: dict, event: str = "update", as_text: bool = True) -> dict:
    """A streaming event line as the listener records it: the status as JSON text (the stream's
    own data) or as an object."""
    return {"event": event, "payload": json.dumps(payload) if as_text else payload}


def labelled(rkey: str, *values: str, alt: str = "") -> dict:
    """A Jetstream create commit whose record carries self-labels and an image with alt text."""
    event = bsky_event(rkey=rkey)
    record = event["commit"]["record"]
    record["embed"]["images"][0]["alt"] = alt
    if values:
        record["labels"] = {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": v} for v in values]}
    return event


def v1_sensitive(shared: Path, id_: str, sensitive: bool, alt: str | None) -> dict:
    """The real one-photo v1.1 status, with `possibly_sensitive` and the photo's `ext_alt_text` set."""
    tweet = v1_photo(shared, text=f"K) one photo {JOY}", id_=id_)
    tweet["possibly_sensitive"] = sensitive
    if alt is not None:
        for media in tweet["extended_entities"]["media"]:
            media["ext_alt_text"] = alt
    return tweet


def dropped(report: dict, level: str = "totals") -> dict:
    counts = report[level] if level == "totals" else report["files"][level]
    return {reason: n for reason, n in counts["dropped"].items() if n}


# ---------------------------------------------------------------- readers


def test_real_v2_page_marks_its_possibly_sensitive_tweets(shared_fixtures):
    page = orjson.loads((shared_fixtures / V2 / "kpop.jsonl").read_bytes().splitlines()[0])
    posts = [p for p in parse_record(page) if isinstance(p, Post)]
    flagged = {p.post_id for p in posts if p.sensitive}
    assert flagged == {
        "1440717092546756616",
        "1440717080681013263",
        "1440717070128205826",
        "1440716015801831430",
    }
    assert len(posts) > len(flagged)
    assert all(p.alt_texts == [""] * len(p.image_urls) for p in posts)  # the page's photos have no alt_text


def test_real_v1_statuses_marked_not_sensitive_stay_so(shared_fixtures):
    tweets = [json.loads(line) for line in (shared_fixtures / V1 / "original_format_examples.json").open()]
    marked = [t for t in tweets if "possibly_sensitive" in t]
    assert marked and all(t["possibly_sensitive"] is False for t in marked)
    photo = v1_photo(shared_fixtures, text=f"K) one photo {JOY}")
    assert photo["possibly_sensitive"] is False
    assert parse_record(photo)[0].sensitive is False


def test_readers_take_flags_and_one_alt_text_per_image(shared_fixtures):
    tweet = parse_record(v1_sensitive(shared_fixtures, "900", True, "two cats"))[0]
    assert (tweet.sensitive, tweet.alt_texts, len(tweet.image_urls)) == (True, ["two cats"], 1)
    page = v2_page(shared_fixtures)
    page["data"][0]["possibly_sensitive"] = True
    page["includes"]["media"][0]["alt_text"] = "a red kite"
    tweet = parse_record(page)[0]
    assert (tweet.sensitive, tweet.alt_texts, tweet.image_urls) == (
        True,
        ["a red kite"],
        ["https://pbs.twimg.com/media/FaKePhOtO.jpg"],
    )
    post = parse_record(labelled("3ka", "graphic-media", alt="storm clouds"))[0]
    assert (post.sensitive, post.alt_texts) == (True, ["storm clouds"])
    assert parse_record(labelled("3kb", "!no-unauthenticated"))[0].sensitive is False  # not a content label
    toot = parse_record(status(spoiler_text="spiders"))[0]
    assert (toot.sensitive, toot.alt_texts, toot.edited) == (True, ["a dog on a beach"], None)
    assert parse_record(status(spoiler_text="  ", description=None))[0].alt_texts == [""]
    assert parse_record(status(spoiler_text="  "))[0].sensitive is False


# ---------------------------------------------------------------- sensitive content


def test_sensitive_posts_are_dropped_unless_kept_and_their_column_is_set(shared_fixtures, tmp_path, monkeypatch):
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            v1_sensitive(shared_fixtures, "901", True, "two cats"),
            v1_sensitive(shared_fixtures, "902", False, None),
            status("111", sensitive=True),
            status("112", spoiler_text="food"),
            status("113", description=""),
            labelled("3ka", "porn"),
            labelled("3kb", "!no-unauthenticated", alt="a lighthouse"),
            labelled("3kc", alt="dusk"),
        ],
    )
    report = collect([path], tmp_path / "default", workers=1, quiet=True)
    assert report["totals"]["read"] == 8 and report["totals"]["kept"] == 4
    assert dropped(report) == {"sensitive": 4}
    assert list(report["totals"]["dropped"]) == list(DROP_REASONS) and DROP_REASONS[-2:] == ("deleted", "sensitive")
    rows = {r["post_id"]: r for r in read_posts(tmp_path / "default")}
    assert {p: (r["sensitive"], r["alt_texts"]) for p, r in rows.items()} == {
        "902": (False, [""]),
        "https://masto.example/users/alice/statuses/113": (False, [""]),
        "at://did:plc:alice/app.bsky.feed.post/3kb": (False, ["a lighthouse"]),
        "at://did:plc:alice/app.bsky.feed.post/3kc": (False, ["dusk"]),
    }

    from smileynet import cli

    out = tmp_path / "kept"
    monkeypatch.setattr(
        sys,
        "argv",
        ["smileynet", "collect", str(path), "--out", str(out), "--workers", "1", "--quiet", "--keep-sensitive"],
    )
    with pytest.raises(SystemExit) as ended:
        cli.main()
    assert ended.value.code == 0
    report = json.loads((out / "collect_report.json").read_text())
    assert report["totals"]["kept"] == 8 and dropped(report) == {}
    assert read_config(out / "config.yaml")["keep_sensitive"] is True
    table = pq.read_table(out / "posts.parquet")
    assert table.schema.names == [
        "post_id",
        "source",
        "created_at",
        "text",
        "emojis",
        "image_urls",
        "alt_texts",
        "author_id",
        "lang",
        "sensitive",
    ]
    flags = dict(zip(table.column("post_id").to_pylist(), table.column("sensitive").to_pylist(), strict=True))
    assert {p for p, flag in flags.items() if flag} == {
        "901",
        "https://masto.example/users/alice/statuses/111",
        "https://masto.example/users/alice/statuses/112",
        "at://did:plc:alice/app.bsky.feed.post/3ka",
    }
    alts = dict(zip(table.column("post_id").to_pylist(), table.column("alt_texts").to_pylist(), strict=True))
    assert alts["901"] == ["two cats"] and alts["https://masto.example/users/alice/statuses/111"] == [
        "a dog on a beach"
    ]


def test_a_sensitive_copy_is_counted_sensitive_not_duplicate(tmp_path):
    a = write_lines(tmp_path / "a.jsonl", [labelled("3ka", "nudity")])
    b = write_lines(tmp_path / "b.jsonl", [labelled("3ka", "nudity"), labelled("3kb")])
    report = collect([a, b], tmp_path / "out", workers=1, quiet=True)
    assert report["totals"]["kept"] == 1
    assert dropped(report, str(a)) == {"sensitive": 1} and dropped(report, str(b)) == {"sensitive": 1}


# ---------------------------------------------------------------- Mastodon edits

URI = "https://masto.example/users/alice/statuses/{}"
LINK = '<a href="https://shop.example/x" rel="nofollow noopener" target="_blank">shop.example/x</a>'


def test_an_edit_that_adds_a_link_drops_the_post_across_files(tmp_path):
    a = write_lines(tmp_path / "a.jsonl", [update(status("120")), status("121")])
    b = write_lines(
        tmp_path / "b.jsonl",
        [update(status("120", f"<p>sunny {JOY} {LINK}</p>", "2024-06-01T12:05:00.000Z"), "status.update")],
    )
    report = collect([a, b], tmp_path / "out", workers=1, quiet=True)
    assert [r["post_id"] for r in read_posts(tmp_path / "out")] == [URI.format("121")]
    assert report["totals"]["read"] == 3 and report["totals"]["kept"] == 1
    assert dropped(report, str(a)) == {"has_url": 1}  # the first version, for its latest version's link
    assert dropped(report, str(b)) == {"has_url": 1}


def test_an_edit_that_removes_the_link_keeps_the_post_as_edited(tmp_path):
    a = write_lines(tmp_path / "a.jsonl", [update(status("130", f"<p>sale {JOY} {LINK}</p>"))])
    b = write_lines(
        tmp_path / "b.jsonl",
        [update(status("130", f"<p>no sale {HEARTS}</p>", "2024-06-01T13:00:00.000Z"), "status.update", as_text=False)],
    )
    report = collect([a, b], tmp_path / "out", workers=1, quiet=True)
    rows = read_posts(tmp_path / "out")
    assert [(r["post_id"], r["text"], r["emojis"]) for r in rows] == [
        (URI.format("130"), f"no sale {HEARTS}", [HEARTS])
    ]
    assert dropped(report, str(a)) == {"has_url": 1} and report["files"][str(a)]["kept"] == 0
    assert dropped(report, str(b)) == {} and report["files"][str(b)]["kept"] == 1


def test_the_latest_edit_wins_by_edited_at_not_by_file_order_and_timelines_count_too(tmp_path):
    later = status("140", f"<p>third {JOY}</p>", "2024-06-02T09:00:00.000Z")
    earlier = status("140", f"<p>second {HEARTS}</p>", "2024-06-01T18:00:00.000Z")
    a = write_lines(tmp_path / "a.jsonl", [update(later, "status.update")])
    b = write_lines(tmp_path / "b.jsonl", [earlier, status("140", f"<p>first {JOY}</p>")])  # polled timeline JSON
    report = collect([a, b], tmp_path / "out", workers=1, quiet=True)
    assert [r["text"] for r in read_posts(tmp_path / "out")] == [f"third {JOY}"]
    assert report["files"][str(a)]["kept"] == 1 and dropped(report, str(b)) == {"duplicate": 2}


def test_an_edit_that_adds_a_content_warning_or_is_deleted_drops_every_version(tmp_path):
    warned = status("150", spoiler_text="eye strain", edited_at="2024-06-01T12:30:00.000Z")
    a = write_lines(tmp_path / "a.jsonl", [status("150"), status("160"), {"event": "delete", "payload": "160"}])
    b = write_lines(
        tmp_path / "b.jsonl",
        [update(warned, "status.update"), update(status("160", edited_at="2024-06-01T12:10:00Z"), "status.update")],
    )
    report = collect([a, b], tmp_path / "out", workers=1, quiet=True)
    assert read_posts(tmp_path / "out") == []
    assert dropped(report, str(a)) == {"sensitive": 1, "deleted": 1, "not_a_post": 1}
    assert dropped(report, str(b)) == {"sensitive": 1, "deleted": 1}
    kept = collect([a, b], tmp_path / "kept", workers=1, quiet=True, keep_sensitive=True)
    rows = read_posts(tmp_path / "kept")
    assert [(r["post_id"], r["sensitive"]) for r in rows] == [(URI.format("150"), True)]
    assert kept["totals"]["dropped"]["duplicate"] == 1 and kept["totals"]["dropped"]["deleted"] == 2


def test_an_edit_with_an_unreadable_edited_at_is_malformed(tmp_path):
    bad = status("170", f"<p>x {LINK}</p>", edited_at="yesterday")
    a = write_lines(tmp_path / "a.jsonl", [status("170"), update(bad, "status.update")])
    report = collect([a], tmp_path / "out", workers=1, quiet=True)
    assert dropped(report) == {"malformed": 1} and report["totals"]["kept"] == 1


def test_versions_meet_whatever_the_split_of_the_work(tmp_path, monkeypatch):
    """Versions in different files, archive members, tasks, runs, merge levels and workers give
    the same posts and counts as one pass over plain files."""
    from smileynet.collect import merge

    files = []
    for f in range(4):
        lines: list[dict] = []
        for i in range(30):
            edited = None if f == 0 else f"2024-06-0{f + 1}T00:00:00.000Z"
            link = LINK if (i + f) % 3 == 0 else ""
            lines.append(update(status(str(200 + i), f"<p>v{f} {JOY} {link}</p>", edited), "status.update"))
        files.append(write_lines(tmp_path / f"{f}.jsonl", lines))
    with tarfile.open(tmp_path / "hours.tar", "w") as tar:
        for path in reversed(files):  # the latest version first in the archive
            tar.add(path, arcname=f"2024/06/{path.name}")
    one = collect(files, tmp_path / "one", workers=1, quiet=True)
    monkeypatch.setattr(merge, "MERGE_FANIN", 3)  # dozens of runs: merged in levels before the last merge
    many = collect([tmp_path / "hours.tar"], tmp_path / "many", workers=2, quiet=True, run_rows=2, task_bytes=2000)
    assert many["tasks"] == 4
    assert one["totals"] == many["totals"]
    assert (tmp_path / "one" / "posts.parquet").read_bytes() == (tmp_path / "many" / "posts.parquet").read_bytes()
    # the latest version (file 3) has a link for i % 3 == 0: those posts go, the other 20 keep v3
    assert [r["text"].split()[0] for r in read_posts(tmp_path / "one")] == ["v3"] * 20
    assert one["totals"]["kept"] == 20 and one["totals"]["dropped"] == {
        **dict.fromkeys(DROP_REASONS, 0),
        "has_url": 4 * 10 + 2 * 10,  # every linked version, and the two clean ones of each post whose latest is linked
        "duplicate": 20 * 2,  # the two clean earlier versions of each kept post
    }


# ---------------------------------------------------------------- hostile values

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _records(shared: Path) -> dict[str, tuple[dict, list[tuple]]]:
    """A valid record of each source, and the places its sensitivity and alt text are read from."""
    page = v2_page(shared)
    return {
        "mastodon": (
            status(),
            [("sensitive",), ("spoiler_text",), ("media_attachments",), ("media_attachments", 0, "description")],
        ),
        "bluesky": (
            labelled("3ka", "porn", alt="x"),
            [
                ("commit", "record", "labels"),
                ("commit", "record", "labels", "values"),
                ("commit", "record", "labels", "values", 0),
                ("commit", "record", "labels", "values", 0, "val"),
                ("commit", "record", "embed", "images", 0, "alt"),
            ],
        ),
        "twitter-v1": (
            v1_sensitive(shared, "903", True, "x"),
            [("possibly_sensitive",), ("extended_entities", "media", 0, "ext_alt_text")],
        ),
        "twitter-v2": (page, [("data", 0, "possibly_sensitive"), ("includes", "media", 0, "alt_text")]),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sensitivity_and_alt_text_never_fail_on_any_json(shared_fixtures, data):
    source = data.draw(st.sampled_from(["mastodon", "bluesky", "twitter-v1", "twitter-v2"]))
    record, places = _records(shared_fixtures)[source]
    record = copy.deepcopy(record)
    place = data.draw(st.sampled_from(places))
    value = data.draw(JSON)
    target = record
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = value
    (post,) = parse_record(orjson.loads(orjson.dumps(record)))
    assert isinstance(post, Post) and isinstance(post.sensitive, bool)
    assert len(post.alt_texts) == len(post.image_urls) and all(isinstance(t, str) for t in post.alt_texts)


@pytest.mark.parametrize("payload", [5, "[1, 2]", "null", {"content": "x"}, "{"])
def test_an_odd_status_update_payload_is_malformed_not_a_crash(tmp_path, payload):
    path = write_lines(tmp_path / "a.jsonl", [{"event": "status.update", "payload": payload}, status("180")])
    report = collect([path], tmp_path / "out", workers=1, quiet=True)
    assert report["totals"]["read"] == 2 and report["totals"]["kept"] == 1 and dropped(report) == {"malformed": 1}
