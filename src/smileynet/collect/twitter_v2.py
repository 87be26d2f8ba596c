"""Twitter API v2 as twarc2 writes it: response pages, streaming lines, flattened tweets."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from smileynet.collect.post import NOT_A_POST, Malformed, Post, alt_of

V2_MEDIA_LINK = re.compile(r"/(?:photo|video)/\d+$")


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
    photos = [m for m in items if m.get("type") == "photo" and m.get("url")]
    refs = {r.get("type") for r in tweet.get("referenced_tweets") or []}
    entities = tweet.get("entities") or {}
    urls = [u for u in entities.get("urls") or [] if not _v2_media_link(u)]
    return Post(
        post_id=str(tweet["id"]),
        source="twitter-v2",
        created=tweet["created_at"],
        text=html.unescape(tweet["text"]),
        image_urls=[m["url"] for m in photos],
        author_id=str(tweet.get("author_id", "")),
        lang=tweet.get("lang"),
        is_retweet="retweeted" in refs,
        is_quote="quoted" in refs,
        is_reply="replied_to" in refs or tweet.get("in_reply_to_user_id") is not None,
        has_url=bool(urls),
        has_hashtag=bool(entities.get("hashtags") or entities.get("cashtags")),
        has_mention=bool(entities.get("mentions")),
        sensitive=tweet.get("possibly_sensitive") is True,
        alt_texts=[alt_of(m, "alt_text") for m in photos],
    )


def _v2_media_link(url: dict) -> bool:
    """In v2 the attached media's own link is listed in `entities.urls`; it is not a URL."""
    return (
        bool(url.get("media_key"))
        or (url.get("display_url") or "").startswith("pic.twitter.com")
        or bool(V2_MEDIA_LINK.search(url.get("expanded_url") or ""))
    )
