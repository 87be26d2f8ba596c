"""Bluesky Jetstream events: `create` commits of `app.bsky.feed.post` are posts."""

from __future__ import annotations

import re

from smileynet.collect.post import NOT_A_POST, Deletion, Post, alt_of

URL_IN_TEXT = re.compile(r"https?://\S")
DEFAULT_BLUESKY_CDN = "https://cdn.bsky.app"
SELF_LABELS = "com.atproto.label.defs#selfLabels"
SENSITIVE_LABELS = frozenset(("porn", "sexual", "nudity", "graphic-media"))  # the adult and graphic self-labels


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
        sensitive=self_labelled(record.get("labels")),
        alt_texts=[alt_of(im, "alt") for im in images],
    )


def self_labelled(labels: object) -> bool:
    """Whether a record's self-labels (`{"$type": SELF_LABELS, "values": [{"val": ...}]}`) mark it
    adult or graphic; any other JSON there marks nothing."""
    if not isinstance(labels, dict) or labels.get("$type") != SELF_LABELS:
        return False
    values = labels.get("values")
    return isinstance(values, list) and any(
        isinstance(label, dict) and isinstance(label.get("val"), str) and label["val"] in SENSITIVE_LABELS
        for label in values
    )


def _blob_cid(image: dict) -> str:
    blob = image["image"]
    return blob["ref"]["$link"] if "ref" in blob else blob["cid"]  # current blobs, then legacy ones
