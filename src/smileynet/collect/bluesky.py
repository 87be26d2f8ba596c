"""Bluesky Jetstream events: `create` commits of `app.bsky.feed.post` are posts."""

from __future__ import annotations

import re

from smileynet.collect.post import NOT_A_POST, Deletion, Post

URL_IN_TEXT = re.compile(r"https?://\S")
DEFAULT_BLUESKY_CDN = "https://cdn.bsky.app"


def bluesky(event: dict, cdn: str = DEFAULT_BLUESKY_CDN) -> Post | Deletion | str:
    """A Jetstream event; only `create` commits of `app.bsky.feed.post` are posts, and `delete`
    commits of that collection withdraw one."""
    commit = event.get("commit")
    if event.get("kind") != "commit" or not isinstance(commit, dict):
        return NOT_A_POST
    if commit.get("operation") == "delete" and commit.get("collection") == "app.bsky.feed.post":
        return Deletion(f"at://{event['did']}/app.bsky.feed.post/{commit['rkey']}")
    if commit.get("operation") != "create" or commit.get("collection") != "app.bsky.feed.post":
        return NOT_A_POST
    record, did = commit["record"], event["did"]
    text = record.get("text") or ""
    features = {
        f.get("$type", "").rsplit("#", 1)[-1]
        for facet in record.get("facets") or []
        for f in facet.get("features") or []
    }
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
