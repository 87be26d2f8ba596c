"""collect: readers and the paper's filter, on the real Twitter payloads (and edited copies of
them), Bluesky Jetstream events and Mastodon statuses built from their documented schemas."""

from __future__ import annotations

import bz2
import copy
import json
import random
from pathlib import Path

import emoji
import orjson
import pyarrow.parquet as pq
import pytest

from smileynet.collect import collect
from smileynet.collect.collector import DROP_REASONS
from smileynet.collect.filter import drop_reason, post_emojis
from smileynet.collect.post import NOT_A_POST, Deletion, Malformed, parse_any_time, parse_time
from smileynet.collect.records import parse_record
from smileynet.vocab import distinct_emojis

V1 = Path("twitter-v1/test/tweet_payload_examples")
V2 = Path("twitter-v2/test-data")
JOY, HEARTS, SKULL = "\U0001f602", "\U0001f60d", "\U0001f480"
SIX = "\U0001f602\U0001f60d\U0001f480\U0001f62d\U0001f60a\U0001f609"


# ---------------------------------------------------------------- record builders


def v1_lines(shared: Path) -> list[dict]:
    return [orjson.loads(line) for line in (shared / V1 / "original_format_examples.json").read_bytes().splitlines()]


def v1_photo(
    shared: Path,
    text: str = f"K) one photo {JOY} https://t.co/ubynnad49V",
    id_: str = "867834809732677634",
    created: str = "Thu May 25 20:08:36 +0000 2017",
) -> dict:
    """The real one-photo status (line K), its text edited to hold a smiley."""
    status = copy.deepcopy(v1_lines(shared)[6])
    status.update(text=text, id_str=id_, id=int(id_), created_at=created)
    return status


def v2_page(
    shared: Path,
    text: str = f"She's GOING with it! {JOY} https://t.co/uXqSAGWkWJ",
    id_: str = "1558553189766631429",
    media_type: str = "photo",
) -> dict:
    """The real twarc2 media page, the video turned into a photo (edited copy)."""
    page = orjson.loads((shared / V2 / "media_tweet.jsonl").read_bytes())
    page["data"][0].update(text=text, id=id_)
    media = page["includes"]["media"][0]
    media["type"] = media_type
    if media_type == "photo":
        media["url"] = "https://pbs.twimg.com/media/FaKePhOtO.jpg"
    return page


def bsky_event(
    text: str = f"sunny {JOY}",
    rkey: str = "3kabc",
    did: str = "did:plc:alice",
    embed: dict | None = "images",
    facets: list | None = None,
    reply: bool = False,
    created: str = "2024-06-01T12:00:00.000Z",
    collection: str = "app.bsky.feed.post",
    operation: str = "create",
) -> dict:
    """A Jetstream commit event (https://github.com/bluesky-social/jetstream, app.bsky.feed.post lexicon)."""
    record: dict = {"$type": collection, "text": text, "createdAt": created, "langs": ["en"]}
    if embed == "images":
        embed = {
            "$type": "app.bsky.embed.images",
            "images": [
                {
                    "alt": "",
                    "image": {
                        "$type": "blob",
                        "ref": {"$link": "bafkreiimage1"},
                        "mimeType": "image/jpeg",
                        "size": 1000,
                    },
                }
            ],
        }
    if embed:
        record["embed"] = embed
    if facets:
        record["facets"] = facets
    if reply:
        ref = {"uri": "at://did:plc:bob/app.bsky.feed.post/3kparent", "cid": "bafyreiparent"}
        record["reply"] = {"root": ref, "parent": ref}
    return {
        "did": did,
        "time_us": 1717243200000000,
        "kind": "commit",
        "commit": {
            "rev": "3l1",
            "operation": operation,
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "cid": "bafyreipost",
        },
    }


def facet(text: str, needle: str, feature: dict) -> dict:
    start = len(text[: text.index(needle)].encode("utf-8"))
    return {"index": {"byteStart": start, "byteEnd": start + len(needle.encode("utf-8"))}, "features": [feature]}


def mastodon_status(content: str = f"<p>sunny {JOY}</p>", id_: str = "1001", media: str = "image", **extra) -> dict:
    """A Mastodon REST status (docs.joinmastodon.org/entities/Status)."""
    status = {
        "id": id_,
        "uri": f"https://masto.example/users/alice/statuses/{id_}",
        "created_at": "2024-06-01T12:00:00.000Z",
        "account": {"id": "7", "url": "https://masto.example/@alice"},
        "content": content,
        "language": "en",
        "in_reply_to_id": None,
        "reblog": None,
        "mentions": [],
        "tags": [],
        "media_attachments": [{"id": "9", "type": media, "url": f"https://files.masto.example/{id_}.jpg"}],
    }
    status.update(extra)
    return status


def only(obj: dict, source: str = "auto", cdn: str = "https://cdn.bsky.app"):
    posts = list(parse_record(obj, source, cdn))
    assert len(posts) == 1
    return posts[0]


def reason(obj: dict) -> str | None:
    post = only(obj)
    return post if isinstance(post, str) else drop_reason(post)


def write_lines(path: Path, records: list) -> Path:
    path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records))
    return path


def read_posts(out: Path) -> list[dict]:
    return pq.read_table(out / "posts.parquet").to_pylist()


# ---------------------------------------------------------------- Twitter v1.1


def test_v1_photo_with_smiley_is_kept_and_its_media_link_is_no_url(shared_fixtures):
    post = only(v1_photo(shared_fixtures))
    assert drop_reason(post) is None
    assert post.image_urls == ["https://pbs.twimg.com/media/DAsrG_tWsAEzeEy.jpg"]
    assert post.emojis == [JOY] and post.author_id and post.lang == "en"


def test_v1_real_payloads_drop_for_their_real_reasons(shared_fixtures):
    lines = v1_lines(shared_fixtures)
    rabbit = only(lines[6])  # a photo and one emoji, a rabbit: no smiley, dropped when the vocabulary applies
    assert drop_reason(rabbit) is None and rabbit.emojis == ["\U0001f430"]
    assert reason(lines[23]) == "no_image"  # "B) ... with media": an animated_gif is no photo
    assert reason(lines[24]) == "no_image"
    assert reason(lines[10]) == "is_retweet"
    assert reason(lines[2]) == "is_quote"
    assert reason(lines[22]) == "is_reply"
    assert reason(lines[3]) == reason(lines[20]) == reason(lines[21]) == "no_image"  # hashtag, mention, link: no photo


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda s: s["entities"]["urls"].append({"url": "https://t.co/x", "expanded_url": "https://example.com/"}),
            "has_url",
        ),
        (lambda s: s["entities"]["hashtags"].append({"text": "tag", "indices": [0, 4]}), "has_hashtag"),
        (lambda s: s["entities"].__setitem__("user_mentions", [{"screen_name": "bob", "id_str": "2"}]), "has_mention"),
        (lambda s: s.update(in_reply_to_status_id_str="1", in_reply_to_status_id=1), "is_reply"),
        (lambda s: s.update(is_quote_status=True), "is_quote"),
        (lambda s: s.update(retweeted_status={"id_str": "5"}), "is_retweet"),
        (lambda s: s.pop("extended_entities"), "no_image"),
        (lambda s: s.update(extended_entities={}), "no_image"),
        (lambda s: s.update(extended_entities=[]), "no_image"),
        (lambda s: s.update(extended_entities=None), "no_image"),
        (lambda s: s.update(extended_entities={"media": None}), "no_image"),
        (lambda s: s["extended_entities"]["media"][0].update(type="video"), "no_image"),
        (lambda s: s.update(text="plain words https://t.co/ubynnad49V"), "no_smiley"),
        (lambda s: s.update(text=f"{SIX} https://t.co/ubynnad49V"), "too_many_emojis"),
    ],
)
def test_v1_each_filter_rule(shared_fixtures, edit, expected):
    status = v1_photo(shared_fixtures)
    edit(status)
    assert reason(status) == expected


def test_v1_five_emojis_of_any_kind_pass_six_do_not(shared_fixtures):
    five = v1_photo(shared_fixtures, text=f"{JOY}\U0001f430\U0001f430\U0001f355\U0001f697\U0001f3b8 x")
    post = only(five)
    assert drop_reason(post) is None and len(post.emojis) == 5
    repeated = v1_photo(shared_fixtures, text=f"{JOY * 9}")
    assert reason(repeated) is None  # distinct emojis are counted


def test_v1_long_tweet_uses_extended_tweet_and_its_self_link_is_no_url(shared_fixtures):
    status = copy.deepcopy(v1_lines(shared_fixtures)[19])  # real 140-char + media tweet (an animated gif)
    assert "…" in status["text"] and status["entities"]["urls"]  # top-level holds the self link
    assert reason(status) == "no_image"
    ext = status["extended_tweet"]
    ext["full_text"] = ext["full_text"].replace("Lorem", JOY)
    ext["extended_entities"]["media"][0]["type"] = "photo"
    post = only(status)
    assert drop_reason(post) is None and JOY in post.text and "…" not in post.text
    assert post.image_urls == [ext["extended_entities"]["media"][0]["media_url_https"]]
    status["extended_tweet"]["entities"]["urls"] = [{"url": "https://t.co/z", "expanded_url": "https://example.com"}]
    assert reason(status) == "has_url"


def test_v1_stream_notices_are_not_posts():
    for notice in ({"limit": {"track": 5}}, {"scrub_geo": {"user_id": 1}}, {"status_withheld": {"id": 1}}):
        assert list(parse_record(notice)) == [NOT_A_POST]
    assert list(parse_record({"delete": {"status": {"id": 1, "id_str": "1"}}})) == [Deletion("twitter:1")]


def test_v1_status_without_user_and_unknown_shapes_are_malformed(shared_fixtures):
    broken = orjson.loads(
        (shared_fixtures / V1 / "broken_and_unsupported_payloads/original_format_missing_user.json").read_bytes()
    )
    with pytest.raises(Malformed):
        list(parse_record(broken))
    activity = orjson.loads((shared_fixtures / V1 / "activity_streams_examples.json").read_bytes().splitlines()[0])
    with pytest.raises(Malformed):
        list(parse_record(activity))
    with pytest.raises(Malformed):
        list(parse_record([1, 2]))


# ---------------------------------------------------------------- Twitter v2 (twarc2)


def test_v2_page_photo_kept_and_media_link_in_urls_does_not_count(shared_fixtures):
    page = v2_page(shared_fixtures)
    assert page["data"][0]["entities"]["urls"][0]["display_url"].startswith("pic.twitter.com")
    post = only(page)
    assert drop_reason(post) is None and post.image_urls == ["https://pbs.twimg.com/media/FaKePhOtO.jpg"]
    assert post.created == "2022-08-13T20:36:51.000Z"
    assert reason(v2_page(shared_fixtures, media_type="video")) == "no_image"  # the real payload: a video


def test_v2_stream_line_and_flattened_forms_agree(shared_fixtures):
    page = v2_page(shared_fixtures)
    tweet, includes = page["data"][0], page["includes"]
    line = {"data": tweet, "includes": includes, "matching_rules": [{"id": "1", "tag": "x"}]}
    flat = dict(
        tweet,
        attachments={"media_keys": tweet["attachments"]["media_keys"], "media": includes["media"]},
        __twarc={"url": "x"},
    )
    posts = [only(page), only(line), only(flat)]
    assert {p.post_id for p in posts} == {"1558553189766631429"}
    assert all(drop_reason(p) is None for p in posts)
    assert len({tuple(p.image_urls) for p in posts}) == 1


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("referenced_tweets", [{"type": "replied_to", "id": "1"}], "is_reply"),
        ("referenced_tweets", [{"type": "quoted", "id": "1"}], "is_quote"),
        ("referenced_tweets", [{"type": "retweeted", "id": "1"}], "is_retweet"),
        ("in_reply_to_user_id", "42", "is_reply"),
    ],
)
def test_v2_referenced_tweets(shared_fixtures, field, value, expected):
    page = v2_page(shared_fixtures)
    page["data"][0][field] = value
    assert reason(page) == expected


def test_v2_entities(shared_fixtures):
    for key, item, expected in (
        (
            "urls",
            {"url": "https://t.co/a", "expanded_url": "https://example.com/a", "display_url": "example.com/a"},
            "has_url",
        ),
        ("hashtags", {"tag": "dogs"}, "has_hashtag"),
        ("mentions", {"username": "bob"}, "has_mention"),
    ):
        page = v2_page(shared_fixtures)
        page["data"][0]["entities"].setdefault(key, []).append(item)
        assert reason(page) == expected
    page = v2_page(shared_fixtures)  # a /photo/N link without media_key is still the media link
    page["data"][0]["entities"]["urls"] = [
        {
            "url": "https://t.co/p",
            "expanded_url": "https://twitter.com/a/status/1/photo/1",
            "display_url": "twitter.com/a/status/1/photo/1",
        }
    ]
    assert reason(page) is None


def test_v2_page_with_one_broken_tweet_keeps_the_others(shared_fixtures, tmp_path):
    page = v2_page(shared_fixtures)
    good = page["data"][0]
    page["data"] = [{"id": "1", "lang": "en"}, good]  # the first tweet has no text
    report = collect([write_lines(tmp_path / "page.jsonl", [page])], tmp_path / "out", workers=1, quiet=True)
    assert [p["post_id"] for p in read_posts(tmp_path / "out")] == [good["id"]]
    assert report["totals"]["read"] == 2 and report["totals"]["dropped"]["malformed"] == 1
    assert "tweet 0 of the page" in report["malformed"][0]["error"] and report["malformed"][0]["line"] == 1


def test_v2_real_files_flat_and_paged_give_identical_counts(shared_fixtures, tmp_path):
    report = collect([shared_fixtures / V2 / "flat.jsonl"], tmp_path / "a", quiet=True, workers=1)
    paged = collect([shared_fixtures / V2 / "noflat.jsonl"], tmp_path / "b", quiet=True, workers=1)
    assert report["totals"]["read"] == paged["totals"]["read"] == 100
    assert report["totals"]["dropped"] == paged["totals"]["dropped"]
    assert report["totals"]["dropped"]["is_retweet"] > 0 and report["totals"]["dropped"]["is_reply"] > 0


# ---------------------------------------------------------------- Bluesky and Mastodon


def test_bluesky_post_kept_with_cdn_image_url():
    post = only(bsky_event(), cdn="http://127.0.0.1:9/")
    assert drop_reason(post) is None
    assert post.post_id == "at://did:plc:alice/app.bsky.feed.post/3kabc"
    assert post.image_urls == ["http://127.0.0.1:9/img/feed_fullsize/plain/did:plc:alice/bafkreiimage1@jpeg"]


def test_bluesky_rules():
    text = f"hi @bob.bsky.social {JOY}"
    assert (
        reason(
            bsky_event(
                text,
                facets=[
                    facet(text, "@bob.bsky.social", {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"})
                ],
            )
        )
        == "has_mention"
    )
    text = f"{JOY} #sunny"
    assert (
        reason(
            bsky_event(text, facets=[facet(text, "#sunny", {"$type": "app.bsky.richtext.facet#tag", "tag": "sunny"})])
        )
        == "has_hashtag"
    )
    text = f"{JOY} example.com/a"
    assert (
        reason(
            bsky_event(
                text,
                facets=[
                    facet(
                        text, "example.com/a", {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a"}
                    )
                ],
            )
        )
        == "has_url"
    )
    assert (
        reason(
            bsky_event(
                embed={
                    "$type": "app.bsky.embed.external",
                    "external": {"uri": "https://e.com", "title": "", "description": ""},
                }
            )
        )
        == "no_image"
    )
    quote = {"$type": "app.bsky.embed.record", "record": {"uri": "at://did:plc:bob/app.bsky.feed.post/3k", "cid": "b"}}
    assert reason(bsky_event(embed=quote)) == "is_quote"
    with_media = {
        "$type": "app.bsky.embed.recordWithMedia",
        "record": quote,
        "media": bsky_event()["commit"]["record"]["embed"],
    }
    assert reason(bsky_event(embed=with_media)) == "is_quote"
    assert reason(bsky_event(reply=True)) == "is_reply"
    assert reason(bsky_event(embed=None)) == "no_image"
    assert reason(bsky_event(text="no smiley here")) == "no_smiley"


def test_bluesky_other_events_are_not_posts():
    assert (
        reason({"did": "did:plc:a", "time_us": 1, "kind": "identity", "identity": {"did": "did:plc:a"}}) == NOT_A_POST
    )
    assert reason(bsky_event(collection="app.bsky.feed.repost")) == NOT_A_POST
    assert reason(bsky_event(collection="app.bsky.feed.like")) == NOT_A_POST
    assert reason(bsky_event(collection="app.bsky.feed.like", operation="delete")) == NOT_A_POST
    assert only(bsky_event(operation="delete")) == Deletion("at://did:plc:alice/app.bsky.feed.post/3kabc")


def test_mastodon_rules():
    post = only(mastodon_status(content=f"<p>sunny &amp; warm {JOY}<br>yes</p>"))
    assert drop_reason(post) is None and post.text == f"sunny & warm {JOY}\nyes"
    assert post.image_urls == ["https://files.masto.example/1001.jpg"]
    mention = (
        '<p><span class="h-card"><a href="https://m.example/@bob" class="u-url mention">@<span>bob</span></a></span> '
        + JOY
        + "</p>"
    )
    assert reason(mastodon_status(content=mention, mentions=[{"id": "2", "acct": "bob"}])) == "has_mention"
    tag = f'<p>{JOY} <a href="https://m.example/tags/sun" class="mention hashtag" rel="tag">#<span>sun</span></a></p>'
    assert reason(mastodon_status(content=tag, tags=[{"name": "sun"}])) == "has_hashtag"
    link = f'<p>{JOY} <a href="https://example.com/a" rel="nofollow noopener" target="_blank">example.com/a</a></p>'
    assert reason(mastodon_status(content=link)) == "has_url"
    assert reason(mastodon_status(in_reply_to_id="5")) == "is_reply"
    assert reason(mastodon_status(reblog=mastodon_status(id_="2"))) == "is_retweet"
    assert reason(mastodon_status(quote={"state": "accepted", "quoted_status": None})) == "is_quote"
    assert reason(mastodon_status(media="video")) == "no_image"
    streamed = {"event": "update", "payload": json.dumps(mastodon_status())}
    assert reason(streamed) is None
    assert only({"event": "delete", "payload": "1001"}) == Deletion("mastodon:1001")


# ---------------------------------------------------------------- fast paths give the plain paths' answers


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ascii 1 2 # *",
        "1\ufe0f\u20e3#\ufe0f\u20e3 12",
        f"{JOY} lol \U0001f60d{JOY}\u263a\ufe0f\u263a",
        "\u263a\ufe0e and \u263a",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 family",
        "\U0001f44d\U0001f3fd\U0001f44d",
        "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea",
        "\U0001f3f3\ufe0f\u200d\U0001f308!",
        "\u00e9\U0001f602\u4e2d",
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f flag",
        "\ufe0e\U0001f602",
        "a\U0001f3fb\u200d",
        # this couple, then a skin tone joined on: the tokenizer answers differently at the start of a text,
        # after U+FE0E, and after any other character
        *(
            before
            + "\U0001f469\U0001f3fb\u200d\u2764\ufe0f\u200d\U0001f468\U0001f3ff\u200d\U0001f3fb\u200d\u2642"
            + after
            for before in ("", "x", "\ufe0e", "ab\ufe0e", "\U0001f602 ")
            for after in ("", " \U0001f602")
        ),
    ],
)
def test_post_emojis_is_distinct_emojis(text):
    assert post_emojis(text) == distinct_emojis(text)


def test_post_emojis_is_distinct_emojis_on_random_emoji_soup():
    rng = random.Random(0)
    keys = sorted(emoji.EMOJI_DATA)
    joined = [k for k in keys if "\u200d" in k]
    chars = sorted({c for k in keys for c in k})
    others = [
        "\u200d",
        "\ufe0f",
        "\ufe0e",
        "\u20e3",
        "\U0001f3fb",
        "\U0001f1eb",
        "\U000e007f",
        "#",
        "1",
        "a",
        " ",
        "\u00e9",
    ]

    def piece() -> str:
        kind = rng.random()
        if kind < 0.3:
            key = rng.choice(joined if kind < 0.1 else keys)
            start = rng.randrange(len(key))
            return key[start : rng.randrange(start, len(key) + 1)] if kind < 0.05 else key
        return rng.choice(others if kind < 0.75 else chars)

    for _ in range(3000):
        text = "".join(piece() for _ in range(rng.randrange(1, 12)))
        assert post_emojis(text) == distinct_emojis(text), ascii(text)


@pytest.mark.parametrize(
    "value",
    [
        "Thu Jun 08 15:23:27 +0000 2017",
        "Mon Jun 08 15:23:27 +0000 2017",
        "Sun Dec 31 23:59:59 +0000 2017",
        "Thu Feb 29 15:23:27 +0000 2016",
        "Thu Feb 29 15:23:27 +0000 2017",
        "Thu Jun 31 15:23:27 +0000 2017",
        "Thu Jun 00 15:23:27 +0000 2017",
        "Thu Jun 08 24:00:00 +0000 2017",
        "Thu Jun 08 15:60:27 +0000 2017",
        "Thu Jun 08 15:23:60 +0000 2017",
        "Thu Jun 08 15:23:61 +0000 2017",
        "Thu Jun 08 15:23:27 +0000 0000",
        "Thu Jun 8 15:23:27 +0000 2017",
        "thu jun 08 15:23:27 +0000 2017",
        "Thu Jun 08 15:23:27 +0200 2017",
        "Thu Jun \u0660\u0668 15:23:27 +0000 2017",
        "Thu Jun 08 15:23:27 +0000 2017 ",
        "2017-06-08T15:23:27.123Z",
        "2017-06-08T15:23:27",
        "junk",
        1496935407,
        None,
    ],
)
def test_parse_time_gives_strptime_answer_or_error(value):
    def outcome(parse):
        try:
            t = parse(value)
        except Exception as err:  # noqa: BLE001 - the error is part of the answer (listed in the report)
            return type(err), str(err)
        return t, t.tzinfo

    assert outcome(parse_time) == outcome(parse_any_time)


# ---------------------------------------------------------------- collect end to end


def test_collect_mixed_sources_report_every_reason_per_file(shared_fixtures, tmp_path):
    v1 = v1_photo(shared_fixtures)
    good = [v1, v2_page(shared_fixtures), bsky_event(), mastodon_status()]
    (tmp_path / "in").mkdir()
    a = write_lines(
        tmp_path / "in" / "a.jsonl",
        [
            *good,
            {"delete": {"status": {"id_str": "1"}}},
            b'{"broken": ',
            b'{"text": "\xff\xfe"}',
            {"what": 1},
            v1_photo(shared_fixtures, text="nothing"),
            v1_photo(shared_fixtures, text=SIX, id_="2"),
            dict(v1_photo(shared_fixtures, id_="3"), retweeted_status={}),
            dict(v1_photo(shared_fixtures, id_="4"), is_quote_status=True),
            dict(v1_photo(shared_fixtures, id_="5"), in_reply_to_status_id_str="9"),
        ],
    )
    extra = v1_photo(shared_fixtures, id_="6")
    extra["entities"].update(urls=[{"url": "https://t.co/x", "expanded_url": "https://e.com"}])
    tagged = v1_photo(shared_fixtures, id_="7")
    tagged["entities"]["hashtags"] = [{"text": "x"}]
    mentioned = v1_photo(shared_fixtures, id_="8")
    mentioned["entities"]["user_mentions"] = [{"screen_name": "x"}]
    noimg = v1_photo(shared_fixtures, id_="10")
    noimg.pop("extended_entities")
    offvocab = v1_photo(
        shared_fixtures, id_="11", text="pizza \U0001f355 https://t.co/ubynnad49V"
    )  # an emoji, no smiley
    b = tmp_path / "in" / "b.jsonl.bz2"
    b.write_bytes(
        bz2.compress(b"\n".join(orjson.dumps(r) for r in [v1, extra, tagged, mentioned, noimg, offvocab]) + b"\n")
    )
    (tmp_path / "in" / "LICENSE").write_text("not posts")
    report = collect([tmp_path / "in"], tmp_path / "out", workers=1, quiet=True)
    posts = read_posts(tmp_path / "out")
    assert sorted(p["source"] for p in posts) == ["bluesky", "mastodon", "twitter-v1", "twitter-v2"]
    assert all(p["emojis"] == [JOY] for p in posts)
    times = [p["created_at"] for p in posts]
    assert times == sorted(times) and all(t.utcoffset().total_seconds() == 0 for t in times)
    files = report["files"]
    assert set(files) == {str(a), str(b)}  # the LICENSE beside them is no input
    fa, fb = files[str(a)]["dropped"], files[str(b)]["dropped"]
    assert fa["malformed"] == 3 and fa["not_a_post"] == 1 and fa["no_smiley"] == 1 and fa["too_many_emojis"] == 1
    assert fa["is_retweet"] == fa["is_quote"] == fa["is_reply"] == 1
    assert fb == dict.fromkeys(DROP_REASONS, 0) | {
        "duplicate": 1,
        "has_url": 1,
        "has_hashtag": 1,
        "has_mention": 1,
        "no_image": 1,
        "no_smiley": 1,
    }
    lines = {m["line"] for m in files[str(a)]["malformed"]}
    assert lines == {6, 7, 8}
    for entry in files.values():  # every record read is kept or dropped for exactly one reason
        assert entry["read"] == entry["kept"] + sum(entry["dropped"].values())
    assert report["totals"]["kept"] == 4 == len(posts)
    assert json.loads((tmp_path / "out" / "collect_report.json").read_text())["totals"] == report["totals"]


def test_collect_times_are_utc_from_the_record(tmp_path):
    path = write_lines(
        tmp_path / "m.jsonl",
        [
            mastodon_status(created_at="2024-06-01T12:00:00+02:00"),
            bsky_event(created="2024-06-01T09:30:00Z", rkey="3kb"),
        ],
    )
    collect([path], tmp_path / "out", workers=1, quiet=True)
    times = [p["created_at"].isoformat() for p in read_posts(tmp_path / "out")]
    assert times == ["2024-06-01T09:30:00+00:00", "2024-06-01T10:00:00+00:00"]


def test_collect_source_flag_and_vocab_options(shared_fixtures, tmp_path):
    path = write_lines(tmp_path / "x.jsonl", [v1_photo(shared_fixtures), bsky_event()])
    report = collect([path], tmp_path / "v1", source="twitter-v1", workers=1, quiet=True)
    assert report["totals"]["kept"] == 1 and report["totals"]["dropped"]["malformed"] == 1
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(f"{SKULL}\n")
    report = collect([path], tmp_path / "skull", vocab=str(vocab), workers=1, quiet=True)
    assert report["totals"]["kept"] == 0 and report["totals"]["dropped"]["no_smiley"] == 2
    pizza = write_lines(
        tmp_path / "p.jsonl",
        [bsky_event(text="\U0001f355 a", rkey=f"3k{i}") for i in range(3)] + [bsky_event(rkey="3kz")],
    )
    report = collect([pizza], tmp_path / "top", vocab="top:1", workers=1, quiet=True)
    assert report["totals"]["kept"] == 3 and report["vocabulary_size"] == 1
    assert "pizza" in (tmp_path / "top" / "categories.csv").read_text()


def test_collect_bad_input_is_one_line_exit_1(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "smileynet", "collect", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"smileynet: error: input not found: {tmp_path / 'missing'}"]
    from smileynet.errors import UserError

    with pytest.raises(UserError, match="unknown source"):
        collect([tmp_path], tmp_path / "o", source="facebook")


def test_a_kept_post_with_an_unreadable_time_is_malformed_once_and_its_page_goes_on(shared_fixtures, tmp_path):
    bad_time = v1_photo(shared_fixtures, id_="21", created="Thu May 25 99:08:36 +0000 2017")
    page = v2_page(shared_fixtures)
    broken = dict(page["data"][0], id="22", created_at="not a time")
    page["data"] = [broken, page["data"][0]]  # the broken tweet first: the good one after it must be kept
    path = write_lines(tmp_path / "a.jsonl", [bad_time, v1_photo(shared_fixtures), page])
    report = collect([path], tmp_path / "out", workers=1, quiet=True)
    entry = report["files"][str(path)]
    assert entry["read"] == 4 == entry["kept"] + sum(entry["dropped"].values())
    assert entry["dropped"]["malformed"] == 2 and entry["kept"] == 2
    assert sorted(p["post_id"] for p in read_posts(tmp_path / "out")) == sorted(
        ["867834809732677634", page["data"][1]["id"]]
    )
    assert [m["line"] for m in entry["malformed"]] == [1, 3]


def test_runs_are_read_back_a_small_row_group_at_a_time(tmp_path):
    """The merge holds one row group per run: runs must not be one big row group (memory grew with the input)."""
    from smileynet.collect.archives import expand_inputs, make_tasks
    from smileynet.collect.collector import MERGE_ROWS, collect_task

    statuses = [
        mastodon_status(id_=str(1000 + i), created_at=f"2024-06-01T12:{i // 60 % 60:02d}:{i % 60:02d}.000Z")
        for i in range(3 * MERGE_ROWS)
    ]
    path = write_lines(tmp_path / "m.jsonl", statuses)
    (tmp_path / "parts").mkdir()
    [task] = make_tasks(expand_inputs([path]), 1 << 30)
    report = collect_task(task, str(tmp_path / "parts"))
    [run] = report["runs"]
    meta = pq.ParquetFile(tmp_path / "parts" / run).metadata
    assert meta.num_rows == 3 * MERGE_ROWS and meta.num_row_groups == 3
    collect([path], tmp_path / "out", workers=1, quiet=True)
    assert len(read_posts(tmp_path / "out")) == 3 * MERGE_ROWS
