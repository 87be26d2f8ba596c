"""One JSON record of any supported archive -> its posts: which source it is, then that reader.

Archives may mix sources, so the source is told per record from its keys alone. The filter
(`smileynet.collect.filter`) looks only at the normalised `Post`, so every source obeys the same rules.
"""

from __future__ import annotations

from smileynet.collect.bluesky import DEFAULT_BLUESKY_CDN, bluesky
from smileynet.collect.mastodon import mastodon
from smileynet.collect.post import Deletion, Malformed, Post
from smileynet.collect.twitter_v1 import V1_NOTICES, twitter_v1
from smileynet.collect.twitter_v2 import twitter_v2

SOURCES = ("twitter-v1", "twitter-v2", "bluesky", "mastodon")


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


def parse_record(
    obj: object, source: str = "auto", cdn: str = DEFAULT_BLUESKY_CDN
) -> list[Post | Deletion | str | Malformed]:
    """The posts of one record, a delete notice, or a drop reason (NOT_A_POST, or a cheap rule already broken);
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
