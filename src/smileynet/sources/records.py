"""One JSON record of any supported archive -> normalised posts, each with what the filter needs.

A record may hold several posts (a twarc2 page), one, or none (a delete notice, a like, a
rate-limit line: `NOT_A_POST`); a reader may also answer a drop reason string at once when a
cheap rule already fails. A record of no known shape raises `Malformed`. The filter
(`drop_reason`) looks only at the normalised `Post`, so every source obeys the same rules.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser

import emoji as emoji_data

from smileynet.vocab import extract_emojis

SOURCES = ("twitter-v1", "twitter-v2", "bluesky", "mastodon")
NOT_A_POST = "not_a_post"
# Twitter v1.1 streaming lines that are not statuses.
V1_NOTICES = frozenset(("delete", "limit", "scrub_geo", "status_withheld", "user_withheld", "disconnect", "warning",
                         "event", "friends", "friends_str", "direct_message", "control", "for_user"))
V2_MEDIA_LINK = re.compile(r"/(?:photo|video)/\d+$")
URL_IN_TEXT = re.compile(r"https?://\S")
DEFAULT_BLUESKY_CDN = "https://cdn.bsky.app"
MONTHS = {m: n for n, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
V1_UTC_TIME = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (" + "|".join(MONTHS)
                         + r") ([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) \+0000 ([0-9]{4})")


class Malformed(ValueError):
    """A record that is valid JSON but not of a shape we know."""


@dataclass(slots=True)
class Post:
    """A post as the filter sees it; `created` stays the record's own string until kept."""

    post_id: str
    source: str
    created: str
    text: str
    image_urls: list[str]
    author_id: str
    lang: str | None
    is_retweet: bool = False
    is_quote: bool = False
    is_reply: bool = False
    has_url: bool = False
    has_hashtag: bool = False
    has_mention: bool = False
    emojis: list[str] = field(default_factory=list)


def drop_reason(post: Post) -> str | None:
    """The first rule of the paper's filter that `post` breaks (cheap rules first), or None.

    Emoji rules here are vocabulary-free (1 to 5 distinct emojis of any kind); ">= 1 in the
    vocabulary" is checked when the vocabulary is known, at the end of collect."""
    if post.is_retweet:
        return "is_retweet"
    if post.is_quote:
        return "is_quote"
    if post.is_reply:
        return "is_reply"
    if not post.image_urls:
        return "no_image"
    if post.has_url:
        return "has_url"
    if post.has_hashtag:
        return "has_hashtag"
    if post.has_mention:
        return "has_mention"
    post.emojis = post_emojis(post.text)
    if not post.emojis:
        return "no_smiley"
    if len(post.emojis) > 5:
        return "too_many_emojis"
    return None


def _emoji_chars() -> re.Pattern[str]:
    """Runs of characters that occur in any emoji the `emoji` package knows, as one regex class."""
    codes = sorted({ord(c) for key in emoji_data.EMOJI_DATA for c in key})
    spans: list[list[int]] = []
    for code in codes:
        if spans and code == spans[-1][1] + 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in spans) + "]+")


EMOJI_RUN = _emoji_chars()


def post_emojis(text: str) -> list[str]:
    """`vocab.distinct_emojis(text)`, fast (the package's tokenizer walks every character in Python).

    An emoji lies inside one run of emoji characters, and the tokenizer's state on reaching a run
    depends only on the one character before it (none, U+FE0E, or another one: its backtracking
    over ZWJ sequences can reach that far, no further), so each run is tokenized with that
    character and nothing else. Every emoji holds a non-ASCII character, so ASCII text and ASCII
    runs (digits, '#', '*') hold none. tests/test_collect.py checks the equality."""
    if text.isascii():
        return []
    found: dict[str, None] = {}
    for run in EMOJI_RUN.finditer(text):
        chars = run.group()
        if len(chars) == 1:  # the usual case, a lone emoji between words: no tokenizer needed
            if chars in emoji_data.EMOJI_DATA:
                found[chars] = None
        elif not chars.isascii():
            found.update(dict.fromkeys(extract_emojis(text[max(run.start() - 1, 0):run.end()])))
    return list(found)


def detect(obj: dict) -> str | None:
    """Which source a record comes from, from its keys alone (per record, so archives may mix)."""
    if "user" in obj:  # v1.1 statuses first: they are most of any stream grab
        return "twitter-v1"
    if "did" in obj and "kind" in obj:
        return "bluesky"
    if "content" in obj and "account" in obj or "payload" in obj and "event" in obj:
        return "mastodon"
    if "data" in obj or "errors" in obj or "author_id" in obj and "text" in obj:
        return "twitter-v2"
    if "id_str" in obj or not V1_NOTICES.isdisjoint(obj) or "text" in obj and "entities" in obj:
        return "twitter-v1"
    return None


def parse_record(obj: object, source: str = "auto", cdn: str = DEFAULT_BLUESKY_CDN) -> list[Post | str | Malformed]:
    """The posts of one record, or a drop reason (NOT_A_POST, or a cheap rule already broken);
    raises Malformed for an unknown shape, or a shape other than `source` when one is forced.
    A broken tweet inside a twarc2 page comes back as a Malformed item among its good ones."""
    if not isinstance(obj, dict):
        raise Malformed(f"a JSON {type(obj).__name__}, not an object")
    kind = detect(obj)
    if kind is None:
        raise Malformed("unknown record shape (keys: " + ", ".join(sorted(obj)[:6]) + ")")
    if source != "auto" and kind != source:
        raise Malformed(f"a {kind} record, not {source}")
    if kind == "twitter-v1":
        return [twitter_v1(obj)]
    if kind == "twitter-v2":
        return list(twitter_v2(obj))
    if kind == "bluesky":
        return [bluesky(obj, cdn)]
    return [mastodon(obj)]


def parse_time(value: str) -> datetime:
    """A record's time as UTC: ISO 8601 (v2, Bluesky, Mastodon) or v1.1's 'Thu Jun 08 15:23:27 +0000 2017'.

    v1.1's UTC form is read by hand first: strptime (~10 us) cost more than all the rest of
    collect's work on a kept post. Whatever the hand reading rejects (another offset, a June 31)
    goes the slow way, so the result, or the error, is strptime's own."""
    if isinstance(value, str) and (match := V1_UTC_TIME.fullmatch(value)):
        month, day, hour, minute, second, year = match.groups()
        try:
            return datetime(int(year), MONTHS[month], int(day), int(hour), int(minute), int(second),
                            tzinfo=timezone.utc)
        except ValueError:
            pass
    return parse_any_time(value)


def parse_any_time(value: str) -> datetime:
    """`parse_time` without its v1.1 fast path: ISO 8601, else strptime with v1.1's format."""
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        t = datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


# ---------------------------------------------------------------- Twitter API v1.1


def twitter_v1(obj: dict) -> Post | str:
    """A v1.1 status. Long tweets: text, entities and media from `extended_tweet`.

    The cheap rules come first and return the drop reason before a Post is built: a stream is
    mostly retweets, replies and posts without photos, and this is the hot loop of collect."""
    if "text" not in obj and "full_text" not in obj:
        if not V1_NOTICES.isdisjoint(obj):
            return NOT_A_POST
        raise Malformed("twitter-v1 record without text")
    user = obj.get("user")
    if not isinstance(user, dict):
        raise Malformed("twitter-v1 status without user")
    if "retweeted_status" in obj:
        return "is_retweet"
    if obj.get("is_quote_status") or obj.get("quoted_status_id_str") or "quoted_status" in obj:
        return "is_quote"
    if obj.get("in_reply_to_status_id") is not None or obj.get("in_reply_to_status_id_str") is not None:
        return "is_reply"
    ext = obj.get("extended_tweet") or obj
    media_entities = ext.get("extended_entities") or obj.get("extended_entities")
    if not media_entities:  # most statuses: no media at all
        return "no_image"
    media = media_entities.get("media") or []
    photos = [m.get("media_url_https") or m["media_url"] for m in media if m.get("type") == "photo"]
    if not photos:
        return "no_image"
    post_id = obj.get("id_str") or str(obj["id"])
    entities = ext.get("entities") or {}
    media_links = {m.get("url") for m in media} | {m.get("url") for m in entities.get("media") or []}
    urls = [u for u in entities.get("urls") or []
            if u.get("url") not in media_links and not _self_link(u.get("expanded_url") or "", post_id)]
    return Post(
        post_id=post_id,
        source="twitter-v1",
        created=obj["created_at"],
        text=html.unescape(ext.get("full_text") or obj.get("full_text") or obj["text"]),
        image_urls=photos,
        author_id=user.get("id_str") or str(user.get("id", "")),
        lang=obj.get("lang"),
        has_url=bool(urls),
        has_hashtag=bool(entities.get("hashtags") or entities.get("symbols")),
        has_mention=bool(entities.get("user_mentions")),
    )


def _self_link(expanded: str, post_id: str) -> bool:
    """A truncated tweet's "… https://t.co/x" points at the tweet itself; it is no URL of the author."""
    return expanded.rstrip("/").endswith(f"/status/{post_id}") or expanded.rstrip("/").endswith(f"/statuses/{post_id}")


# ---------------------------------------------------------------- Twitter API v2 (twarc2)


def twitter_v2(obj: dict) -> Iterator[Post | str | Malformed]:
    """A twarc2 page (`data` list + `includes`), a streaming line (`data` object) or a flattened tweet."""
    if "data" not in obj:
        if "errors" in obj or "meta" in obj:
            yield NOT_A_POST
            return
        yield v2_tweet(obj, None)
        return
    data = obj["data"]
    media = {m["media_key"]: m for m in (obj.get("includes") or {}).get("media") or [] if "media_key" in m}
    for n, tweet in enumerate(data if isinstance(data, list) else [data]):
        try:
            yield v2_tweet(tweet, media)
        except (Malformed, KeyError, TypeError, ValueError, AttributeError) as err:  # the page's other tweets stand
            yield Malformed(f"tweet {n} of the page: {type(err).__name__}: {err}")


def v2_tweet(tweet: dict, media: dict | None) -> Post:
    if not isinstance(tweet, dict) or "id" not in tweet or "text" not in tweet:
        raise Malformed("twitter-v2 tweet without id or text")
    attachments = tweet.get("attachments") or {}
    if media is None:  # flattened: twarc2 puts the expanded media objects in place
        items = attachments.get("media") or []
    else:
        items = [media[k] for k in attachments.get("media_keys") or [] if k in media]
    refs = {r.get("type") for r in tweet.get("referenced_tweets") or []}
    entities = tweet.get("entities") or {}
    urls = [u for u in entities.get("urls") or [] if not _v2_media_link(u)]
    return Post(
        post_id=str(tweet["id"]),
        source="twitter-v2",
        created=tweet["created_at"],
        text=html.unescape(tweet["text"]),
        image_urls=[m["url"] for m in items if m.get("type") == "photo" and m.get("url")],
        author_id=str(tweet.get("author_id", "")),
        lang=tweet.get("lang"),
        is_retweet="retweeted" in refs,
        is_quote="quoted" in refs,
        is_reply="replied_to" in refs or tweet.get("in_reply_to_user_id") is not None,
        has_url=bool(urls),
        has_hashtag=bool(entities.get("hashtags") or entities.get("cashtags")),
        has_mention=bool(entities.get("mentions")),
    )


def _v2_media_link(url: dict) -> bool:
    """In v2 the attached media's own link is listed in `entities.urls`; it is not a URL."""
    return bool(url.get("media_key")) or (url.get("display_url") or "").startswith("pic.twitter.com") or bool(
        V2_MEDIA_LINK.search(url.get("expanded_url") or ""))


# ---------------------------------------------------------------- Bluesky (Jetstream)


def bluesky(event: dict, cdn: str = DEFAULT_BLUESKY_CDN) -> Post | str:
    """A Jetstream event; only `create` commits of `app.bsky.feed.post` are posts."""
    commit = event.get("commit")
    if event.get("kind") != "commit" or not isinstance(commit, dict):
        return NOT_A_POST
    if commit.get("operation") != "create" or commit.get("collection") != "app.bsky.feed.post":
        return NOT_A_POST
    record, did = commit["record"], event["did"]
    text = record.get("text") or ""
    features = {f.get("$type", "").rsplit("#", 1)[-1] for facet in record.get("facets") or []
                for f in facet.get("features") or []}
    embed = record.get("embed") or {}
    kind = embed.get("$type", "")
    images = (embed.get("images") or []) if kind == "app.bsky.embed.images" else []
    return Post(
        post_id=f"at://{did}/app.bsky.feed.post/{commit['rkey']}",
        source="bluesky",
        created=record["createdAt"],
        text=text,
        image_urls=[f"{cdn.rstrip('/')}/img/feed_fullsize/plain/{did}/{_blob_cid(im)}@jpeg" for im in images],
        author_id=did,
        lang=(record.get("langs") or [None])[0],
        is_quote=kind in ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia"),
        is_reply="reply" in record,
        has_url="link" in features or kind == "app.bsky.embed.external" or bool(URL_IN_TEXT.search(text)),
        has_hashtag="tag" in features,
        has_mention="mention" in features,
    )


def _blob_cid(image: dict) -> str:
    blob = image["image"]
    return blob["ref"]["$link"] if "ref" in blob else blob["cid"]  # current blobs, then legacy ones


# ---------------------------------------------------------------- Mastodon


def mastodon(status: dict) -> Post | str:
    """A Mastodon status (REST or a streaming `update` event); links are `<a>` that are neither
    mentions nor hashtags."""
    if "payload" in status and "event" in status:
        if status["event"] != "update":
            return NOT_A_POST
        import orjson

        status = orjson.loads(status["payload"])
    if "content" not in status or "created_at" not in status:
        raise Malformed("mastodon status without content")
    page = _MastodonHTML()
    page.feed(status["content"] or "")
    account = status.get("account") or {}
    return Post(
        post_id=str(status.get("uri") or status["id"]),
        source="mastodon",
        created=status["created_at"],
        text=page.text().strip(),
        image_urls=[m["url"] for m in status.get("media_attachments") or [] if m.get("type") == "image" and m.get("url")],
        author_id=str(account.get("url") or account.get("id", "")),
        lang=status.get("language"),
        is_retweet=status.get("reblog") is not None,
        is_quote=status.get("quote") is not None or status.get("quote_id") is not None,
        is_reply=status.get("in_reply_to_id") is not None,
        has_url=page.links > 0,
        has_hashtag=bool(status.get("tags")) or page.hashtags > 0,
        has_mention=bool(status.get("mentions")) or page.mentions > 0,
    )


class _MastodonHTML(HTMLParser):
    """Text of a status' HTML, and its anchors by kind (mention, hashtag, plain link)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links = self.mentions = self.hashtags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            values = dict(attrs)
            classes = (values.get("class") or "").split()
            if "hashtag" in classes or "tag" in (values.get("rel") or "").split():
                self.hashtags += 1
            elif "mention" in classes:
                self.mentions += 1
            else:
                self.links += 1

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        return "".join(self.parts)
