"""Twitter API v1.1 statuses: REST, the streaming API and the Archive Team stream grab."""

from __future__ import annotations

import html

from smileynet.collect.post import NOT_A_POST, Deletion, Malformed, Post, alt_of

# Twitter v1.1 streaming lines that are not statuses.
V1_NOTICES = frozenset(
    (
        "delete",
        "limit",
        "scrub_geo",
        "status_withheld",
        "user_withheld",
        "disconnect",
        "warning",
        "event",
        "friends",
        "friends_str",
        "direct_message",
        "control",
        "for_user",
    )
)


def twitter_v1(obj: dict) -> Post | Deletion | str:
    """A v1.1 status. Long tweets: text, entities and media from `extended_tweet`.

    The cheap rules come first and return the drop reason before a Post is built: a stream is
    mostly retweets, replies and posts without photos, and this is the hot loop of collect."""
    if "text" not in obj and "full_text" not in obj:
        deleted = obj.get("delete")
        if isinstance(deleted, dict) and isinstance(deleted.get("status"), dict):  # {"delete": {"status": ...}}
            status = deleted["status"]
            return Deletion("twitter:" + str(status.get("id_str") or status["id"]))
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
    photos = [m for m in media if m.get("type") == "photo"]
    if not photos:
        return "no_image"
    image_urls = [m.get("media_url_https") or m["media_url"] for m in photos]
    post_id = obj.get("id_str") or str(obj["id"])
    entities = ext.get("entities") or {}
    media_links = {m.get("url") for m in media} | {m.get("url") for m in entities.get("media") or []}
    urls = [
        u
        for u in entities.get("urls") or []
        if u.get("url") not in media_links and not _self_link(u.get("expanded_url") or "", post_id)
    ]
    return Post(
        post_id=post_id,
        source="twitter-v1",
        created=obj["created_at"],
        text=html.unescape(ext.get("full_text") or obj.get("full_text") or obj["text"]),
        image_urls=image_urls,
        author_id=user.get("id_str") or str(user.get("id", "")),
        lang=obj.get("lang"),
        has_url=bool(urls),
        has_hashtag=bool(entities.get("hashtags") or entities.get("symbols")),
        has_mention=bool(entities.get("user_mentions")),
        sensitive=obj.get("possibly_sensitive") is True,
        alt_texts=[alt_of(m, "ext_alt_text") for m in photos],
    )


def _self_link(expanded: str, post_id: str) -> bool:
    """A truncated tweet's "… https://t.co/x" points at the tweet itself; it is no URL of the author."""
    return expanded.rstrip("/").endswith(f"/status/{post_id}") or expanded.rstrip("/").endswith(f"/statuses/{post_id}")
