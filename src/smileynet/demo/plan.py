"""What the demo world holds, drawn from one seed: its size, and the posts and pictures to make.

Each post carries what a correct `collect` must extract from it (its vocabulary emojis) or the
filter rule it breaks, so the world can tell the pipeline's expected counts.

The emojis are drawn to look like a Twitter stream, so that the paper's temporal sampling has
something to correct: a fixed head (`HEAD`: 😂 on about 18 % of the posts, the top five on about
40 %) over a long tail, and `EVENTS`, emojis that spike for two weeks in one source (on half of
that source's posts in those days) and are rare otherwise. Both are properties of this world,
chosen so the per-emoji cap of `sample` removes posts (`over_cap` counts them): the temporal
train split is flatter than the raw one by construction, which is what lets the demo's Table 1
show a difference at all.
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from smileynet.demo.pictures import Picture
from smileynet.vocab import Vocabulary, display_emoji

FLAWS = (
    "has_url",
    "has_hashtag",
    "has_mention",
    "is_reply",
    "is_quote",
    "is_retweet",
    "no_image",
    "no_smiley",
    "too_many_emojis",
)
OTHER_EMOJIS = ("❤️", "🎉", "🔥", "👍", "🙏", "✨", "🌸", "🍕", "⚽", "🎶", "🤦‍♀️", "👏🏽", "🇫🇷")
WORDS = (
    "sunday morning with the crew finally home today look at this weekend trip lunch view "
    "new shoes the garden coffee time after work my sister little one best day ever again "
    "cannot believe it so tired what a night road trip back at it first snow beach days "
    "birthday cake concert last night rainy monday game day new haircut dinner tonight"
).split()
ERAS = {  # (first day, days): when each source's posts were written
    "twitter-v1": (datetime(2017, 1, 1, tzinfo=UTC), 120),
    "twitter-v2": (datetime(2022, 3, 1, tzinfo=UTC), 120),
    "bluesky": (datetime(2024, 6, 1, tzinfo=UTC), 120),
}
SOURCE_SHARE = {"twitter-v1": 0.5, "twitter-v2": 0.25, "bluesky": 0.25}
WINDOW_DAYS = 30  # `sample`'s default window, counted from the first post
EMOJIS_PER_POST = (1, 1, 1, 1, 1, 1, 1, 2, 2, 3)  # distinct smileys: most posts have one
# The most used smileys on Twitter, most used first, and the chance each is drawn per emoji slot:
# about 18 % of posts carry 😂, about 40 % one of the five.
HEAD = {"😂": 0.13, "😍": 0.058, "😭": 0.052, "😊": 0.046, "😘": 0.04}


@dataclass(frozen=True)
class Event:
    """An emoji that spikes: `share` of `source`'s posts in `days` days from `start_day` (counted from
    the source's era start, see `ERAS`) carry it. Each lies inside one 30-day window of `sample`."""

    emoji: str
    source: str
    start_day: int
    days: int
    share: float

    def active(self, source: str, created: datetime) -> bool:
        start = ERAS[source][0] + timedelta(days=self.start_day)
        return source == self.source and start <= created < start + timedelta(days=self.days)


EVENTS = (
    Event("😱", "twitter-v1", 35, 14, 0.5),
    Event("😡", "twitter-v1", 95, 14, 0.5),
    Event("🤒", "twitter-v2", 40, 14, 0.5),
    Event("🤩", "bluesky", 25, 14, 0.5),
)
TWITTER_EPOCH_MS = 1288834974657
B32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass
class WorldSize:
    """How big the world is; `for_minutes` scales it with the demo's time budget."""

    posts: int = 4000  # posts that pass every filter (duplicates not counted)
    flawed_per_rule: int = 40  # posts breaking each filter rule
    duplicates: int = 60
    twitter_images: int = 400  # Twitter I look-alike, 3-agree set
    fi_per_emotion: int = 40
    objects_per_class: int = 60  # training pictures per object of the baseline's world (`OBJECTS`)
    label_noise: float = 0.15  # a kept post's picture shows another emoji
    blank: float = 0.05  # ... or no emoji at all
    missing: float = 0.02  # image answers 404
    broken: float = 0.02  # image is not a decodable JPEG

    @classmethod
    def for_minutes(cls, minutes: float) -> WorldSize:
        scale = max(minutes, 0.5) / 10
        return cls(
            posts=int(4000 * scale),
            flawed_per_rule=max(int(40 * scale), 2),
            duplicates=max(int(60 * scale), 2),
            twitter_images=max(int(400 * scale), 60),
            fi_per_emotion=max(int(40 * scale), 8),
            objects_per_class=max(int(60 * scale), 8),
        )

    @classmethod
    def tiny(cls) -> WorldSize:
        """For tests: every format and every rule, a few hundred posts."""
        return cls(posts=300, flawed_per_rule=2, duplicates=3, twitter_images=60, fi_per_emotion=8, objects_per_class=4)


@dataclass
class Post:
    """A post before it is written in its source's format."""

    source: str
    id: str
    created: datetime
    author: int
    text: str  # without the media link
    emojis: list[str]  # distinct vocabulary emojis, the labels a correct collect extracts
    images: list[str] = field(default_factory=list)  # paths on the image server
    flaw: str | None = None
    long: bool = False  # a v1.1 extended tweet: the emojis are past the 140 characters of `text`


class PostMaker:
    """Draws posts (texts, emojis, flaws) from one random stream."""

    def __init__(self, rng: np.random.Generator, vocab: Vocabulary) -> None:
        self.rng, self.vocab = rng, vocab
        self.popularity = popularity(rng, vocab)
        self.serial = 0

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS, n))

    def pick_emojis(self, source: str = "", created: datetime | None = None) -> list[str]:
        n = int(self.rng.choice(EMOJIS_PER_POST))
        picks = [int(i) for i in self.rng.choice(len(self.vocab), n, replace=False, p=self.popularity)]
        for event in EVENTS:
            if created is not None and event.active(source, created) and self.rng.random() < event.share:
                index = self.vocab.index(event.emoji)
                if index not in picks:
                    picks[-1] = index
        return [self.vocab.emojis[i] for i in picks]

    def emoji_text(self, emojis: list[str], extra: int) -> str:
        """Emojis as people write them: repeated, with U+FE0F, between other emojis."""
        pieces = []
        for key in emojis:
            pieces.append(display_emoji(key) * int(self.rng.choice([1, 1, 2, 3])))
        others = list(self.rng.choice(OTHER_EMOJIS, extra, replace=False)) if extra else []
        pieces += others
        order = self.rng.permutation(len(pieces))
        return "".join(pieces[i] for i in order)

    def make(self, source: str, created: datetime, flaw: str | None) -> Post:
        self.serial += 1
        emojis = self.pick_emojis(source, created)
        extra = int(self.rng.choice([0, 0, 1, 2])) if len(emojis) <= 3 else 0
        if flaw == "too_many_emojis":
            extra = 6 - len(emojis) + int(self.rng.integers(0, 3))
        text_emojis = self.emoji_text(emojis, min(extra, len(OTHER_EMOJIS)))
        if flaw == "no_smiley":
            emojis, text_emojis = [], self.emoji_text([], int(self.rng.integers(0, 3)))
        long = source == "twitter-v1" and self.rng.random() < 0.1
        words = self.words(int(self.rng.integers(26, 34)) if long else int(self.rng.integers(2, 9)))
        text = f"{words} {text_emojis}".strip()
        if flaw == "has_url":
            text += " https://example.com/" + "".join(self.rng.choice(list(string.ascii_lowercase), 8))
        elif flaw == "has_hashtag":
            text += " #" + str(self.rng.choice(["tbt", "sunday", "happy", "travel"]))
        elif flaw == "has_mention":
            text = "@" + str(self.rng.choice(["ana_b", "jordan99", "mo_k"])) + " " + text
        author = int(self.rng.integers(10**7, 10**9))
        return Post(source, "", created, author, text, emojis, [], flaw, long)


def popularity(rng: np.random.Generator, vocab: Vocabulary) -> np.ndarray:
    """The chance each vocabulary emoji is drawn for an emoji slot: `HEAD`'s fixed shares, the rest
    spread over the other emojis on a power law, in a random order."""
    head = [vocab.index(e) for e in HEAD]
    tail = [i for i in rng.permutation(len(vocab)) if i not in head]
    weights = np.zeros(len(vocab))
    weights[head] = list(HEAD.values())
    ranks = np.arange(16, len(tail) + 16, dtype=float) ** -1.2  # the first below the head's smallest share
    weights[tail] = ranks / ranks.sum() * (1 - sum(HEAD.values()))
    return weights


def _when(rng: np.random.Generator, source: str, n: int) -> list[datetime]:
    """Posting times spread over the source's months, in bursts of a few minutes (stream files)."""
    start, days = ERAS[source]
    bursts = max(n // 15, 1)
    minutes = np.sort(rng.integers(0, days * 24 * 60, bursts))
    picks = np.sort(rng.choice(minutes, n)) * 60 + rng.integers(0, 60, n)
    return [start + timedelta(seconds=int(s)) for s in picks]


def snowflake(created: datetime, rng: np.random.Generator) -> str:
    ms = int(created.timestamp() * 1000)
    return str(((ms - TWITTER_EPOCH_MS) << 22) | int(rng.integers(0, 1 << 22)))


def b32(rng: np.random.Generator, n: int) -> str:
    return "".join(B32[i] for i in rng.integers(0, 32, n))


def media_key(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(string.ascii_letters + string.digits + "-_"), 15))


def plan_posts(rng: np.random.Generator, vocab: Vocabulary, size: WorldSize) -> list[Post]:
    """Every post of the world (kept and flawed), with ids and image paths, sorted by time."""
    maker = PostMaker(rng, vocab)
    posts: list[Post] = []
    for source, share in SOURCE_SHARE.items():
        flaws: list[str | None] = [None] * int(round(size.posts * share))
        flaws += [f for f in FLAWS for _ in range(max(int(round(size.flawed_per_rule * share)), 1))]
        for created, flaw in zip(_when(rng, source, len(flaws)), rng.permutation(np.array(flaws, dtype=object))):
            post = maker.make(source, created, flaw)
            if source == "bluesky":
                post.id = f"at://did:plc:{b32(rng, 24)}/app.bsky.feed.post/3k{b32(rng, 11)}"
            else:
                post.id = snowflake(created, rng)
            if flaw != "no_image":
                n_images = int(rng.choice([1, 1, 1, 1, 2, 3, 4] if source != "bluesky" else [1, 1, 1, 2]))
                for _ in range(n_images):
                    if source == "bluesky":
                        did = post.id.split("/")[2]
                        post.images.append(f"img/feed_fullsize/plain/{did}/bafkrei{b32(rng, 52)}@jpeg")
                    else:
                        post.images.append(f"media/{media_key(rng)}.jpg")
            posts.append(post)
    return sorted(posts, key=lambda p: p.created)


def pictures_for_posts(
    rng: np.random.Generator, posts: list[Post], vocab: Vocabulary, size: WorldSize, scores: dict[str, float]
) -> list[Picture]:
    """The pictures behind kept posts' image links (dropped posts' images are never fetched)."""
    out = []
    for post in posts:
        if post.flaw is not None:
            continue
        for path in post.images:
            shown = list(post.emojis)
            roll = rng.random()
            if roll < size.label_noise:
                shown[int(rng.integers(len(shown)))] = vocab.emojis[int(rng.integers(len(vocab)))]
            elif roll < size.label_noise + size.blank:
                shown = []
            mood = float(np.mean([scores[e] for e in post.emojis])) if post.emojis else 0.0
            damage_roll = rng.random()
            damage = (
                "missing"
                if damage_roll < size.missing
                else "broken"
                if damage_roll < size.missing + size.broken
                else None
            )
            out.append(
                Picture(
                    path,
                    shown,
                    mood,
                    int(rng.integers(160, 320)),
                    int(rng.integers(160, 320)),
                    int(rng.integers(2**31)),
                    damage,
                )
            )
    return out


def window_of(created: datetime, first: datetime, window_days: int = WINDOW_DAYS) -> int:
    """`sample`'s window number: whole `window_days` since the first post."""
    return int((created - first).total_seconds() // (window_days * 86400))


def over_cap(posts: list[Post], cap: int, window_days: int = WINDOW_DAYS) -> Counter[str]:
    """Per emoji, how many kept posts are past `cap` in their window: at least this many are not
    drawn *through* that emoji by temporal sampling (co-labels may still bring some back)."""
    kept = [p for p in posts if p.flaw is None]
    if not kept:
        return Counter()
    first = min(p.created for p in kept)
    per_window = Counter((window_of(p.created, first, window_days), e) for p in kept for e in p.emojis)
    over: Counter[str] = Counter()
    for (_, emoji), count in per_window.items():
        if count > cap:
            over[emoji] += count - cap
    return over
