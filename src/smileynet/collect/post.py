"""A post as every reader hands it to the filter, and the pieces all readers share.

A record may hold several posts (a twarc2 page), one, or none (a delete notice, a like, a
rate-limit line: `NOT_A_POST`; a delete notice: a `Deletion`); a reader may also answer a drop reason string at once when a
cheap rule already fails. A record of no known shape raises `Malformed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

NOT_A_POST = "not_a_post"
MONTHS = {m: n for n, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
V1_UTC_TIME = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ("
    + "|".join(MONTHS)
    + r") ([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) \+0000 ([0-9]{4})"
)


class Malformed(ValueError):
    """A record that is valid JSON but not of a shape we know."""


@dataclass(slots=True, frozen=True)
class Deletion:
    """A delete notice: the `delete_key` of the post it withdraws. Counted as `not_a_post` where it
    sits; the post it names, wherever it sits in the inputs, is dropped as `deleted`."""

    key: str


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
    delete_key: str = ""  # what a delete notice names; see `delete_key`
    sensitive: bool = False  # flagged by its author or platform (Twitter, Mastodon) or self-labelled (Bluesky)
    alt_texts: list[str] = field(default_factory=list)  # one per image URL, "" where the image has none
    edited: str | None = None  # when this version was made (Mastodon `edited_at`); None: never edited


def alt_of(item: object, key: str) -> str:
    """An image's alt text `item[key]`, or "" for no text or any other JSON."""
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) else ""


def delete_key(post: Post) -> str:
    """How delete notices name `post`: tweet ids (v1.1 and v2 share them), Bluesky AT URIs, and
    Mastodon's instance-local status ids (the reader sets those: its post_id is the status URI).
    A stream delete event carries no instance, so recordings of two instances share one id space;
    their ids hold the millisecond they were made and 16 more bits, which makes a clash unlikely."""
    if post.delete_key:
        return post.delete_key
    return "twitter:" + post.post_id if post.source.startswith("twitter") else post.post_id


def parse_time(value: str) -> datetime:
    """A record's time as UTC: ISO 8601 (v2, Bluesky, Mastodon) or v1.1's 'Thu Jun 08 15:23:27 +0000 2017'.

    v1.1's UTC form is read by hand first: strptime (~10 us) cost more than all the rest of
    collect's work on a kept post. Whatever the hand reading rejects (another offset, a June 31)
    goes the slow way, so the result, or the error, is strptime's own."""
    if isinstance(value, str) and (match := V1_UTC_TIME.fullmatch(value)):
        month, day, hour, minute, second, year = match.groups()
        try:
            return datetime(int(year), MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC)
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
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)
