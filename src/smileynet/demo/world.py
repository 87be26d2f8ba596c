"""The demo's generated world: what a real user would have before running SmileyNet.

`generate_world(out, size, seed, base_url)` writes, under `out/`:

- `archives/`: posts in their real archive formats, spread over several months per source:
  - `archiveteam-twitter-stream-YYYY-MM.tar`: Archive Team stream grabs, one `.json.bz2` of
    Twitter API v1.1 stream lines per minute (`YYYY/MM/DD/HH/MM.json.bz2`), with `delete` and
    `limit` notices, long tweets (`extended_tweet`), a corrupt member and a dotfile junk member;
  - `twarc2-search-2022.jsonl`: twarc2 (API v2) response pages, one per line, `includes.media`
    holding the photos, ending with a line cut off mid-stream;
  - `jetstream-2024.jsonl.zst`: Bluesky Jetstream events (posts, likes, identity and account
    events, deletes), image blobs served at the CDN's `/img/feed_fullsize/plain/{did}/{cid}@jpeg`.
  Besides the posts to keep there are posts each filter rule must drop (URL, hashtag, mention,
  reply, quote, retweet, no photo, no smiley, more than 5 emojis) and duplicates.
- `www/`: the images the posts link to, served by `smileynet.demo.server` (a few are missing, to
  answer 404, or broken). A kept post's picture shows its emojis (`pictures.compose`), with label
  noise: sometimes another emoji, sometimes none.
- `benchmarks/twitter/`: a Twitter I look-alike (`images/`, `twitter_{five,four,three}_agrees.txt`,
  `ground_truth/` 5-fold lists); the picture shows emojis of the image's polarity (the Emoji
  Sentiment Ranking), more reliably the more annotators agree.
- `benchmarks/fi/`: an FI look-alike (`<emotion>/<emotion>_NNNN.jpg`, one emoji group per emotion,
  plus Flickr-style placeholder copies).
- `world.json`: the sizes, the seed, the server address and the counts a correct pipeline must
  find (posts to keep, drops per rule, duplicates...).
"""

from __future__ import annotations

import bz2
import io
import json
import string
import tarfile
import zlib
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import zstandard

from smileynet.demo import pictures
from smileynet.files import write_json
from smileynet.lexicon import vocabulary_sentiment
from smileynet.progress import progress
from smileynet.vocab import Vocabulary, default_vocabulary, display_emoji

FLAWS = ("has_url", "has_hashtag", "has_mention", "is_reply", "is_quote", "is_retweet", "no_image",
         "no_smiley", "too_many_emojis")
OTHER_EMOJIS = ("❤️", "🎉", "🔥", "👍", "🙏", "✨", "🌸", "🍕", "⚽", "🎶", "🤦‍♀️", "👏🏽", "🇫🇷")
WORDS = ("sunday morning with the crew finally home today look at this weekend trip lunch view "
         "new shoes the garden coffee time after work my sister little one best day ever again "
         "cannot believe it so tired what a night road trip back at it first snow beach days "
         "birthday cake concert last night rainy monday game day new haircut dinner tonight").split()
FI_GROUPS = {
    "amusement": ("😂", "🤣", "😆", "😝"),
    "awe": ("😮", "😲", "🤩", "😯"),
    "contentment": ("😊", "😌", "☺", "🙂"),
    "excitement": ("😃", "😁", "😄", "🤗"),
    "anger": ("😠", "😡", "🤬", "👿"),
    "disgust": ("🤢", "🤮", "😖", "💩"),
    "fear": ("😱", "😨", "😰", "😧"),
    "sadness": ("😢", "😭", "😞", "😔"),
}
ERAS = {  # (first day, days): when each source's posts were written
    "twitter-v1": (datetime(2017, 1, 1, tzinfo=timezone.utc), 120),
    "twitter-v2": (datetime(2022, 3, 1, tzinfo=timezone.utc), 120),
    "bluesky": (datetime(2024, 6, 1, tzinfo=timezone.utc), 120),
}
SOURCE_SHARE = {"twitter-v1": 0.5, "twitter-v2": 0.25, "bluesky": 0.25}
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
    label_noise: float = 0.15  # a kept post's picture shows another emoji
    blank: float = 0.05  # ... or no emoji at all
    missing: float = 0.02  # image answers 404
    broken: float = 0.02  # image is not a decodable JPEG

    @classmethod
    def for_minutes(cls, minutes: float) -> WorldSize:
        scale = max(minutes, 0.5) / 10
        return cls(posts=int(4000 * scale), flawed_per_rule=max(int(40 * scale), 2), duplicates=max(int(60 * scale), 2),
                   twitter_images=max(int(400 * scale), 60), fi_per_emotion=max(int(40 * scale), 8))

    @classmethod
    def tiny(cls) -> WorldSize:
        """For tests: every format and every rule, a few hundred posts."""
        return cls(posts=300, flawed_per_rule=2, duplicates=3, twitter_images=60, fi_per_emotion=8)


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


@dataclass
class Picture:
    """One image file to render: what it shows and how it is damaged."""

    path: str
    emojis: list[str]
    mood: float
    width: int
    height: int
    seed: int
    damage: str | None = None  # "missing" (never written) or "broken" (not a JPEG)


# ---------------------------------------------------------------- posts


class PostMaker:
    """Draws posts (texts, emojis, flaws) from one random stream."""

    def __init__(self, rng: np.random.Generator, vocab: Vocabulary) -> None:
        self.rng, self.vocab = rng, vocab
        ranks = np.arange(1, len(vocab) + 1, dtype=float)
        weights = ranks ** -0.6  # a few emojis are much more popular, as in real posts
        self.popularity = weights[rng.permutation(len(vocab))] / weights.sum()
        self.serial = 0

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(WORDS, n))

    def pick_emojis(self) -> list[str]:
        n = int(self.rng.choice([1, 1, 1, 2, 2, 3]))
        picks = self.rng.choice(len(self.vocab), n, replace=False, p=self.popularity)
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
        emojis = self.pick_emojis()
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


def _when(rng: np.random.Generator, source: str, n: int) -> list[datetime]:
    """Posting times spread over the source's months, in bursts of a few minutes (stream files)."""
    start, days = ERAS[source]
    bursts = max(n // 15, 1)
    minutes = np.sort(rng.integers(0, days * 24 * 60, bursts))
    picks = np.sort(rng.choice(minutes, n)) * 60 + rng.integers(0, 60, n)
    return [start + timedelta(seconds=int(s)) for s in picks]


def _snowflake(created: datetime, rng: np.random.Generator) -> str:
    ms = int(created.timestamp() * 1000)
    return str(((ms - TWITTER_EPOCH_MS) << 22) | int(rng.integers(0, 1 << 22)))


def _b32(rng: np.random.Generator, n: int) -> str:
    return "".join(B32[i] for i in rng.integers(0, 32, n))


def _media_key(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list(string.ascii_letters + string.digits + "-_"), 15))


def plan_posts(rng: np.random.Generator, vocab: Vocabulary, size: WorldSize) -> list[Post]:
    """Every post of the world (kept and flawed), with ids and image paths, sorted by time."""
    maker = PostMaker(rng, vocab)
    posts: list[Post] = []
    for source, share in SOURCE_SHARE.items():
        flaws = [None] * int(round(size.posts * share))
        flaws += [f for f in FLAWS for _ in range(max(int(round(size.flawed_per_rule * share)), 1))]
        for created, flaw in zip(_when(rng, source, len(flaws)), rng.permutation(np.array(flaws, dtype=object))):
            post = maker.make(source, created, flaw)
            if source == "bluesky":
                post.id = f"at://did:plc:{_b32(rng, 24)}/app.bsky.feed.post/3k{_b32(rng, 11)}"
            else:
                post.id = _snowflake(created, rng)
            if flaw != "no_image":
                n_images = int(rng.choice([1, 1, 1, 1, 2, 3, 4] if source != "bluesky" else [1, 1, 1, 2]))
                for _ in range(n_images):
                    if source == "bluesky":
                        did = post.id.split("/")[2]
                        post.images.append(f"img/feed_fullsize/plain/{did}/bafkrei{_b32(rng, 52)}@jpeg")
                    else:
                        post.images.append(f"media/{_media_key(rng)}.jpg")
            posts.append(post)
    return sorted(posts, key=lambda p: p.created)


def _pictures_for_posts(rng: np.random.Generator, posts: list[Post], vocab: Vocabulary, size: WorldSize,
                        scores: dict[str, float]) -> list[Picture]:
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
            damage = "missing" if damage_roll < size.missing else "broken" if damage_roll < size.missing + size.broken else None
            out.append(Picture(path, shown, mood, int(rng.integers(160, 320)), int(rng.integers(160, 320)),
                               int(rng.integers(2**31)), damage))
    return out


# ---------------------------------------------------------------- Twitter v1.1 and the stream grab


def _v1_time(t: datetime) -> str:
    return t.strftime("%a %b %d %H:%M:%S +0000 %Y")


def _v1_user(author: int) -> dict:
    return {"id": author, "id_str": str(author), "name": f"user {author % 1000}", "screen_name": f"user{author}",
            "location": None, "description": "", "protected": False, "verified": False, "followers_count": author % 997,
            "friends_count": author % 313, "statuses_count": author % 5000, "created_at": "Mon Jan 05 10:00:00 +0000 2015",
            "lang": "en", "default_profile": True}


def v1_status(post: Post, base_url: str, rng: np.random.Generator) -> dict:
    """A Twitter API v1.1 status as the streaming API delivered it."""
    link = "https://t.co/" + _media_key(rng)[:10]
    media = []
    for n, path in enumerate(post.images, 1):
        media_id = int(post.id) - n
        media.append({
            "id": media_id, "id_str": str(media_id), "indices": [0, 0], "media_url": f"{base_url}/{path}",
            "media_url_https": f"{base_url}/{path}", "url": link, "display_url": "pic.twitter.com/" + link[13:],
            "expanded_url": f"https://twitter.com/user{post.author}/status/{post.id}/photo/{n}", "type": "photo",
            "sizes": {"large": {"w": 1024, "h": 768, "resize": "fit"}, "thumb": {"w": 150, "h": 150, "resize": "crop"}},
        })
    if post.flaw == "no_image" and rng.random() < 0.5:  # a video is not a photo
        key = _media_key(rng)
        media.append({"id": int(post.id) - 1, "id_str": str(int(post.id) - 1), "indices": [0, 0],
                      "media_url": f"{base_url}/thumbs/{key}.jpg", "media_url_https": f"{base_url}/thumbs/{key}.jpg",
                      "url": link, "display_url": "pic.twitter.com/" + link[13:], "type": "video",
                      "expanded_url": f"https://twitter.com/user{post.author}/status/{post.id}/video/1",
                      "video_info": {"aspect_ratio": [16, 9], "variants": [{"content_type": "video/mp4", "url": f"{base_url}/video/{key}.mp4"}]}})

    def entities(text: str) -> tuple[dict, str, list[int]]:
        entities: dict = {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []}
        if "#" in text:
            tag = text.rsplit("#", 1)[1]
            start = len(text) - len(tag) - 1
            entities["hashtags"].append({"text": tag, "indices": [start, len(text)]})
        if "https://example.com/" in text:
            url = text[text.index("https://example.com/"):]
            short = "https://t.co/" + _media_key(rng)[:10]
            text = text.replace(url, short)
            start = text.index(short)
            entities["urls"].append({"url": short, "expanded_url": url, "display_url": url[8:], "indices": [start, start + len(short)]})
        if text.startswith("@"):
            name = text[1:].split(" ", 1)[0]
            entities["user_mentions"].append({"screen_name": name, "name": name, "id": 42, "id_str": "42", "indices": [0, len(name) + 1]})
        shown = len(text)
        if media:
            text = f"{text} {link}"
            for m in media:
                m["indices"] = [shown + 1, len(text)]
            entities["media"] = [dict(m) for m in media[:1]]
        return entities, text, [0, shown]

    full_entities, full_text, full_range = entities(post.text)
    status = {
        "created_at": _v1_time(post.created), "id": int(post.id), "id_str": post.id, "text": full_text,
        "display_text_range": full_range, "source": '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
        "truncated": False, "in_reply_to_status_id": None, "in_reply_to_status_id_str": None, "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None, "in_reply_to_screen_name": None, "user": _v1_user(post.author), "geo": None,
        "coordinates": None, "place": None, "contributors": None, "is_quote_status": False, "quote_count": 0,
        "reply_count": 0, "retweet_count": 0, "favorite_count": 0, "entities": full_entities, "favorited": False,
        "retweeted": False, "filter_level": "low", "lang": "en", "timestamp_ms": str(int(post.created.timestamp() * 1000)),
    }
    if media:
        status["extended_entities"] = {"media": media}
        status["possibly_sensitive"] = False
    if post.long:  # the stream's "compatibility" form: text cut at 140 characters, the rest in extended_tweet
        self_link = "https://t.co/" + _media_key(rng)[:10]
        cut = post.text[:112].rstrip() + "\u2026 " + self_link
        status["text"], status["truncated"], status["display_text_range"] = cut, True, [0, len(cut) - len(self_link) - 1]
        status["entities"] = {"hashtags": [], "user_mentions": [], "symbols": [], "urls": [{
            "url": self_link, "expanded_url": f"https://twitter.com/i/web/status/{post.id}",
            "display_url": f"twitter.com/i/web/status/{post.id[:4]}\u2026", "indices": [len(cut) - len(self_link), len(cut)]}]}
        status.pop("extended_entities", None)
        status["extended_tweet"] = {"full_text": full_text, "display_text_range": full_range, "entities": full_entities}
        if media:
            status["extended_tweet"]["extended_entities"] = {"media": media}
    if post.flaw == "is_reply":
        parent = int(post.id) - int(rng.integers(10**9, 10**12))
        status.update(in_reply_to_status_id=parent, in_reply_to_status_id_str=str(parent),
                      in_reply_to_user_id=post.author, in_reply_to_user_id_str=str(post.author),
                      in_reply_to_screen_name=f"user{post.author}")
    elif post.flaw == "is_quote":
        quoted = int(post.id) - int(rng.integers(10**9, 10**12))
        status.update(is_quote_status=True, quoted_status_id=quoted, quoted_status_id_str=str(quoted),
                      quoted_status={"created_at": _v1_time(post.created - timedelta(hours=3)), "id": quoted, "id_str": str(quoted),
                                     "text": "the original post", "user": _v1_user(post.author + 1), "entities": {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []},
                                     "is_quote_status": False, "lang": "en"})
    elif post.flaw == "is_retweet":
        original = dict(status)
        original_id = int(post.id) - int(rng.integers(10**9, 10**12))
        original.update(id=original_id, id_str=str(original_id), user=_v1_user(post.author + 7),
                        created_at=_v1_time(post.created - timedelta(hours=5)))
        name = f"user{post.author + 7}"
        status["retweeted_status"] = original
        status["text"] = f"RT @{name}: {original['text']}"
        status["truncated"] = False
        status.pop("extended_tweet", None)
        status["entities"] = dict(status["entities"], user_mentions=[{"screen_name": name, "name": name, "id": post.author + 7,
                                                                        "id_str": str(post.author + 7), "indices": [3, 4 + len(name)]}])
    return status


def _v1_delete(rng: np.random.Generator, t: datetime) -> dict:
    sid = _snowflake(t - timedelta(days=int(rng.integers(1, 300))), rng)
    uid = int(rng.integers(10**7, 10**9))
    return {"delete": {"status": {"id": int(sid), "id_str": sid, "user_id": uid, "user_id_str": str(uid)},
                       "timestamp_ms": str(int(t.timestamp() * 1000))}}


def _bz2_lines(lines: list[str]) -> bytes:
    return bz2.compress(("\n".join(lines) + "\n").encode("utf-8"))


def _add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_stream_grab(folder: Path, posts: list[Post], duplicates: list[Post], base_url: str,
                      rng: np.random.Generator) -> dict:
    """Archive Team tars, one per month, of per-minute `.json.bz2` stream files."""
    by_minute: dict[datetime, list[str]] = defaultdict(list)
    counts = Counter()
    for post in posts + duplicates:
        minute = post.created.replace(second=0, microsecond=0)
        by_minute[minute].append(json.dumps(v1_status(post, base_url, np.random.default_rng(int(post.id) % 2**32)), ensure_ascii=False))
    for minute, lines in by_minute.items():
        for _ in range(int(rng.integers(0, 3))):
            lines.insert(int(rng.integers(len(lines) + 1)), json.dumps(_v1_delete(rng, minute)))
            counts["delete"] += 1
        if rng.random() < 0.1:
            lines.insert(int(rng.integers(len(lines) + 1)),
                         json.dumps({"limit": {"track": int(rng.integers(1, 500)), "timestamp_ms": str(int(minute.timestamp() * 1000))}}))
            counts["limit"] += 1
    months: dict[str, list[datetime]] = defaultdict(list)
    for minute in sorted(by_minute):
        months[minute.strftime("%Y-%m")].append(minute)
    files = []
    for month, minutes in months.items():
        path = folder / f"archiveteam-twitter-stream-{month}.tar"
        with tarfile.open(path, "w") as tar:
            for minute in minutes:
                _add_member(tar, minute.strftime("%Y/%m/%d/%H/%M.json.bz2"), _bz2_lines(by_minute[minute]), minute.timestamp())
            first = minutes[0]
            # what real grabs also hold: a cut-off member and macOS resource-fork junk
            junk_minute = first.replace(hour=23, minute=59)
            while junk_minute in by_minute:
                junk_minute -= timedelta(minutes=1)
            notices = [json.dumps(_v1_delete(rng, junk_minute)) for _ in range(20)]
            corrupt = _bz2_lines(notices)
            _add_member(tar, junk_minute.strftime("%Y/%m/%d/%H/%M.json.bz2"), corrupt[: len(corrupt) // 2], first.timestamp())
            _add_member(tar, first.strftime("%Y/%m/%d/%H/._%M.json.bz2"), bytes(rng.integers(0, 256, 82, dtype=np.uint8)), first.timestamp())
            counts["corrupt_members"] += 1
            counts["junk_members"] += 1
        files.append(path.name)
    return {"files": files, **counts}


# ---------------------------------------------------------------- Twitter API v2 (twarc2)


def _v2_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def v2_tweet(post: Post, rng: np.random.Generator) -> tuple[dict, list[dict]]:
    """A v2 tweet object and its `includes.media` entries."""
    text = post.text
    entities: dict = {}
    if "https://example.com/" in text:
        url = text[text.index("https://example.com/"):]
        short = "https://t.co/" + _media_key(rng)[:10]
        text = text.replace(url, short)
        start = text.index(short)
        entities["urls"] = [{"start": start, "end": start + len(short), "url": short, "expanded_url": url, "display_url": url[8:]}]
    if "#" in text:
        tag = text.rsplit("#", 1)[1]
        entities["hashtags"] = [{"start": len(text) - len(tag) - 1, "end": len(text), "tag": tag}]
    if text.startswith("@"):
        name = text[1:].split(" ", 1)[0]
        entities["mentions"] = [{"start": 0, "end": len(name) + 1, "username": name, "id": "42"}]
    media, keys = [], []
    for n, path in enumerate(post.images, 1):
        key = f"3_{int(post.id) - n}"
        keys.append(key)
        media.append({"media_key": key, "type": "photo", "url": f"{{BASE}}/{path}", "width": 1024, "height": 768})
    if post.flaw == "no_image" and rng.random() < 0.5:
        key = f"7_{int(post.id) - 1}"
        keys.append(key)
        media.append({"media_key": key, "type": "video", "preview_image_url": f"{{BASE}}/thumbs/{key}.jpg",
                      "duration_ms": 7000, "width": 1280, "height": 720})
    if keys:
        link = "https://t.co/" + _media_key(rng)[:10]
        start = len(text) + 1
        text = f"{text} {link}"
        entities.setdefault("urls", []).append({"start": start, "end": len(text), "url": link, "media_key": keys[0],
                                                "expanded_url": f"https://twitter.com/user{post.author}/status/{post.id}/photo/1",
                                                "display_url": "pic.twitter.com/" + link[13:]})
    tweet = {"id": post.id, "text": text, "created_at": _v2_time(post.created), "author_id": str(post.author),
             "conversation_id": post.id, "lang": "en", "possibly_sensitive": False, "reply_settings": "everyone",
             "edit_history_tweet_ids": [post.id],
             "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": int(rng.integers(0, 50)), "quote_count": 0}}
    if entities:
        tweet["entities"] = entities
    if keys:
        tweet["attachments"] = {"media_keys": keys}
    other = str(int(post.id) - int(rng.integers(10**9, 10**12)))
    if post.flaw == "is_reply":
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": other}]
        tweet["in_reply_to_user_id"] = str(post.author)
        tweet["conversation_id"] = other
    elif post.flaw == "is_quote":
        tweet["referenced_tweets"] = [{"type": "quoted", "id": other}]
    elif post.flaw == "is_retweet":
        name = f"user{post.author + 7}"
        tweet["referenced_tweets"] = [{"type": "retweeted", "id": other}]
        tweet["text"] = f"RT @{name}: {tweet['text']}"
        tweet["entities"] = {"mentions": [{"start": 3, "end": 4 + len(name), "username": name, "id": str(post.author + 7)}]}
    return tweet, media


def write_twarc2(path: Path, posts: list[Post], duplicates: list[Post], base_url: str, rng: np.random.Generator) -> dict:
    """twarc2 search output: one API response page per line, then a line cut off mid-stream."""
    everything = sorted(posts + duplicates, key=lambda p: p.created, reverse=True)  # search pages run newest first
    lines = []
    for start in range(0, len(everything), 20):
        page = everything[start:start + 20]
        data, media, users = [], [], {}
        for post in page:
            tweet, tweet_media = v2_tweet(post, np.random.default_rng(int(post.id) % 2**32))
            data.append(tweet)
            media += tweet_media
            users[str(post.author)] = {"id": str(post.author), "username": f"user{post.author}", "name": f"user {post.author % 1000}",
                                       "created_at": "2015-01-05T10:00:00.000Z", "protected": False, "verified": False}
        response = {"data": data, "includes": {"media": media, "users": list(users.values())},
                    "meta": {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data)},
                    "__twarc": {"url": "https://api.twitter.com/2/tweets/search/all?query=has%3Aimages", "version": "2.12.1",
                                "retrieved_at": "2022-07-02T10:00:00+00:00"}}
        lines.append(json.dumps(response, ensure_ascii=False).replace("{BASE}", base_url))
    cut = json.dumps({"data": [{"id": "1", "text": "cut off"}]})
    lines.append(cut[: len(cut) // 2])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"files": [path.name], "pages": len(lines) - 1, "cut_lines": 1}


# ---------------------------------------------------------------- Bluesky Jetstream


def _bsky_images(paths: list[str], rng: np.random.Generator) -> dict:
    return {"$type": "app.bsky.embed.images", "images": [
        {"alt": "", "aspectRatio": {"width": 4, "height": 3},
         "image": {"$type": "blob", "ref": {"$link": p.rsplit("/", 1)[1].split("@")[0]}, "mimeType": "image/jpeg",
                   "size": int(rng.integers(20000, 900000))}} for p in paths]}


def _facet(text: str, needle: str, feature: dict) -> dict:
    start = len(text[: text.index(needle)].encode("utf-8"))
    return {"index": {"byteStart": start, "byteEnd": start + len(needle.encode("utf-8"))}, "features": [feature]}


def jetstream_event(post: Post, rng: np.random.Generator) -> dict:
    """A Jetstream `commit` event creating the post (a repost is a repost record, not a post)."""
    _, _, did, collection, rkey = post.id.split("/")
    time_us = int(post.created.timestamp() * 1_000_000) + int(rng.integers(0, 900_000))
    cid = "bafyrei" + _b32(rng, 52)
    if post.flaw == "is_retweet":
        subject = f"at://did:plc:{_b32(rng, 24)}/app.bsky.feed.post/3k{_b32(rng, 11)}"
        record = {"$type": "app.bsky.feed.repost", "createdAt": post.created.isoformat().replace("+00:00", "Z"),
                  "subject": {"cid": "bafyrei" + _b32(rng, 52), "uri": subject}}
        return {"did": did, "time_us": time_us, "kind": "commit", "commit": {
            "rev": "3l" + _b32(rng, 11), "operation": "create", "collection": "app.bsky.feed.repost", "rkey": rkey,
            "record": record, "cid": cid}}
    text = post.text
    record: dict = {"$type": "app.bsky.feed.post", "createdAt": post.created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "langs": ["en"], "text": text}
    facets = []
    if "https://example.com/" in text:
        url = text[text.index("https://example.com/"):]
        facets.append(_facet(text, url, {"$type": "app.bsky.richtext.facet#link", "uri": url}))
    if "#" in text:
        tag = text.rsplit("#", 1)[1]
        facets.append(_facet(text, "#" + tag, {"$type": "app.bsky.richtext.facet#tag", "tag": tag}))
    if text.startswith("@"):
        handle = text[1:].split(" ", 1)[0]
        facets.append(_facet(text, "@" + handle, {"$type": "app.bsky.richtext.facet#mention", "did": f"did:plc:{_b32(rng, 24)}"}))
        text = record["text"] = text.replace("@" + handle, "@" + handle + ".bsky.social", 1)
        facets[-1] = _facet(text, "@" + handle + ".bsky.social", facets[-1]["features"][0])
    if facets:
        record["facets"] = facets
    if post.images:
        record["embed"] = _bsky_images(post.images, rng)
    other = {"cid": "bafyrei" + _b32(rng, 52), "uri": f"at://did:plc:{_b32(rng, 24)}/app.bsky.feed.post/3k{_b32(rng, 11)}"}
    if post.flaw == "is_reply":
        record["reply"] = {"root": other, "parent": other}
    elif post.flaw == "is_quote":
        record["embed"] = {"$type": "app.bsky.embed.recordWithMedia", "record": {"$type": "app.bsky.embed.record", "record": other},
                           "media": _bsky_images(post.images, rng)} if post.images else {"$type": "app.bsky.embed.record", "record": other}
    return {"did": did, "time_us": time_us, "kind": "commit", "commit": {
        "rev": "3l" + _b32(rng, 11), "operation": "create", "collection": collection, "rkey": rkey, "record": record, "cid": cid}}


def _jetstream_noise(rng: np.random.Generator, t: datetime) -> dict:
    did = f"did:plc:{_b32(rng, 24)}"
    time_us = int(t.timestamp() * 1_000_000)
    kind = int(rng.integers(4))
    if kind == 0:
        return {"did": did, "time_us": time_us, "kind": "identity", "identity": {"did": did, "handle": "someone.bsky.social", "seq": int(rng.integers(10**9)), "time": t.isoformat()}}
    if kind == 1:
        return {"did": did, "time_us": time_us, "kind": "account", "account": {"active": True, "did": did, "seq": int(rng.integers(10**9)), "time": t.isoformat()}}
    if kind == 2:
        return {"did": did, "time_us": time_us, "kind": "commit", "commit": {"rev": "3l" + _b32(rng, 11), "operation": "delete",
                                                                             "collection": "app.bsky.feed.post", "rkey": "3k" + _b32(rng, 11)}}
    return {"did": did, "time_us": time_us, "kind": "commit", "commit": {
        "rev": "3l" + _b32(rng, 11), "operation": "create", "collection": "app.bsky.feed.like", "rkey": "3k" + _b32(rng, 11),
        "record": {"$type": "app.bsky.feed.like", "createdAt": t.isoformat().replace("+00:00", "Z"),
                   "subject": {"cid": "bafyrei" + _b32(rng, 52), "uri": f"at://{did}/app.bsky.feed.post/3k{_b32(rng, 11)}"}}, "cid": "bafyrei" + _b32(rng, 52)}}


def write_jetstream(path: Path, posts: list[Post], duplicates: list[Post], rng: np.random.Generator) -> dict:
    """Jetstream events as saved from its websocket, zstd-compressed JSON lines."""
    lines, noise = [], 0
    for post in sorted(posts + duplicates, key=lambda p: p.created):
        lines.append(json.dumps(jetstream_event(post, np.random.default_rng(_stable(post.id))), ensure_ascii=False))
        if rng.random() < 0.3:
            lines.append(json.dumps(_jetstream_noise(rng, post.created)))
            noise += 1
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(("\n".join(lines) + "\n").encode("utf-8")))
    return {"files": [path.name], "other_events": noise}


def _stable(text: str) -> int:
    """A seed from a string that does not change between Python processes (unlike hash())."""
    return zlib.crc32(text.encode("utf-8"))


# ---------------------------------------------------------------- images and benchmarks


def render(picture: Picture, root: Path) -> None:
    """Write one picture under `root` (or nothing, for a missing one)."""
    if picture.damage == "missing":
        return
    rng = np.random.default_rng(picture.seed)
    path = root / picture.path
    path.parent.mkdir(parents=True, exist_ok=True)
    if picture.damage == "broken":
        data = pictures.jpeg_bytes(pictures.background(rng, 64, 64), rng)
        path.write_bytes(data[: len(data) // 3] if rng.random() < 0.5 else b"<html><body>Rate limit exceeded</body></html>")
        return
    image = pictures.compose(rng, picture.emojis, picture.mood, picture.width, picture.height)
    path.write_bytes(pictures.jpeg_bytes(image, rng))


def _render_many(items: list[Picture], root: Path, workers: int, quiet: bool, desc: str) -> None:
    if workers <= 1:
        for picture in progress(items, total=len(items), desc=desc, unit="img", quiet=quiet):
            render(picture, root)
        return
    with ProcessPoolExecutor(workers) as pool:
        for _ in progress(pool.map(render, items, [root] * len(items), chunksize=64), total=len(items), desc=desc, unit="img", quiet=quiet):
            pass


def twitter_benchmark(rng: np.random.Generator, vocab: Vocabulary, scores: dict[str, float], n: int) -> tuple[list[Picture], dict]:
    """A Twitter I look-alike: 3-agree set of `n` images, nested 4- and 5-agree sets."""
    positive = [e for e in vocab.emojis if scores[e] > 0.35]
    negative = [e for e in vocab.emojis if scores[e] < -0.1]
    pics, labels, level = [], {}, {}
    for i in range(n):
        label = int(rng.random() < 0.62)
        agree = int(rng.choice([3, 4, 5], p=[0.15, 0.15, 0.7]))
        flip = rng.random() < {3: 0.35, 4: 0.2, 5: 0.1}[agree]
        pool = positive if label != flip else negative
        emoji = str(rng.choice(pool))
        uid, tid = int(rng.integers(10**7, 10**10)), int(rng.integers(4 * 10**17, 5 * 10**17))
        name = f"{uid}_{tid}_{_media_key(rng)}.jpg"
        pics.append(Picture(f"images/{name}", [emoji], scores[emoji], int(rng.integers(200, 400)), int(rng.integers(200, 400)),
                            int(rng.integers(2**31))))
        labels[name], level[name] = label, agree
    listings = {}
    for split, need in (("five_agrees", 5), ("four_agrees", 4), ("three_agrees", 3)):
        listings[split] = [(name, labels[name]) for name in labels if level[name] >= need]
    return pics, listings


def write_twitter_listings(root: Path, listings: dict[str, list[tuple[str, int]]], rng: np.random.Generator) -> None:
    """`twitter_*_agrees.txt` and the published-style `ground_truth/` 5-fold train/test lists."""
    for split, pairs in listings.items():
        (root / f"twitter_{split}.txt").write_text("".join(f"{n} {y}\n" for n, y in pairs), encoding="utf-8")
        order = rng.permutation(len(pairs))
        folds = np.array_split(order, 5)
        for k, test in enumerate(folds, 1):
            fold = root / "ground_truth" / split / f"test{k}"
            fold.mkdir(parents=True, exist_ok=True)
            test_set = set(test.tolist())
            (fold / "test.txt").write_text("".join(f"{pairs[i][0]} {pairs[i][1]}\n" for i in test), encoding="utf-8")
            (fold / "train.txt").write_text("".join(f"{pairs[i][0]} {pairs[i][1]}\n" for i in order if i not in test_set), encoding="utf-8")


def fi_benchmark(rng: np.random.Generator, vocab: Vocabulary, scores: dict[str, float], per_emotion: int) -> list[Picture]:
    """An FI look-alike: each emotion's pictures show one of its emoji group, 20% another emoji."""
    pics = []
    for emotion, group in FI_GROUPS.items():
        for i in range(1, per_emotion + 1):
            emoji = str(rng.choice(group)) if rng.random() > 0.2 else vocab.emojis[int(rng.integers(len(vocab)))]
            pics.append(Picture(f"{emotion}/{emotion}_{i:04d}.jpg", [emoji], scores[emoji], int(rng.integers(200, 400)),
                                int(rng.integers(200, 400)), int(rng.integers(2**31))))
    return pics


# ---------------------------------------------------------------- the world


def generate_world(out: Path, size: WorldSize, seed: int, base_url: str, workers: int = 1, quiet: bool = False) -> dict:
    """Write the whole world under `out` (see the module docstring); returns what `world.json` holds."""
    rng = np.random.default_rng(seed)
    vocab = default_vocabulary()
    sentiment = vocabulary_sentiment(vocab)
    scores = dict(zip(vocab.emojis, sentiment.scores))
    missing = [e for group in FI_GROUPS.values() for e in group if e not in vocab]
    if missing:
        raise ValueError(f"FI emoji groups use emojis outside the vocabulary: {missing}")
    posts = plan_posts(rng, vocab, size)
    kept = [p for p in posts if p.flaw is None]
    dup_idx = rng.choice(len(kept), min(size.duplicates, len(kept)), replace=False)
    duplicates = [kept[i] for i in dup_idx]

    archives = out / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    by_source = {s: [p for p in posts if p.source == s] for s in SOURCE_SHARE}
    dups = {s: [p for p in duplicates if p.source == s] for s in SOURCE_SHARE}
    formats = {
        "twitter-v1": write_stream_grab(archives, by_source["twitter-v1"], dups["twitter-v1"], base_url, rng),
        "twitter-v2": write_twarc2(archives / "twarc2-search-2022.jsonl", by_source["twitter-v2"], dups["twitter-v2"], base_url, rng),
        "bluesky": write_jetstream(archives / "jetstream-2024.jsonl.zst", by_source["bluesky"], dups["bluesky"], rng),
    }

    images = _pictures_for_posts(rng, posts, vocab, size, scores)
    _render_many(images, out / "www", workers, quiet, "world images")
    twitter_pics, listings = twitter_benchmark(rng, vocab, scores, size.twitter_images)
    twitter_root = out / "benchmarks" / "twitter"
    _render_many(twitter_pics, twitter_root, workers, quiet, "Twitter I images")
    write_twitter_listings(twitter_root, listings, rng)
    fi_root = out / "benchmarks" / "fi"
    fi_pics = fi_benchmark(rng, vocab, scores, size.fi_per_emotion)
    _render_many(fi_pics, fi_root, workers, quiet, "FI images")
    placeholder = pictures.jpeg_bytes(pictures.background(np.random.default_rng(seed), 161, 81), np.random.default_rng(seed))
    for emotion in ("awe", "fear"):  # Flickr's "photo no longer available", byte-identical copies
        for i in range(3):
            (fi_root / emotion / f"{emotion}_{size.fi_per_emotion + i + 1:04d}.jpg").write_bytes(placeholder)

    emoji_posts = Counter(e for p in kept for e in p.emojis)
    world = {
        "seed": seed,
        "size": asdict(size),
        "base_url": base_url,
        "vocabulary": "default",
        "expected": {
            "posts_kept": len(kept),
            "images_of_kept_posts": sum(len(p.images) for p in kept),
            "images_missing": sum(p.damage == "missing" for p in images),
            "images_broken": sum(p.damage == "broken" for p in images),
            "duplicates": len(duplicates),
            "dropped_by_rule": {f: sum(p.flaw == f for p in posts) for f in FLAWS},
            "kept_per_source": {s: sum(p.flaw is None for p in by_source[s]) for s in SOURCE_SHARE},
            "bluesky_reposts": sum(p.flaw == "is_retweet" for p in by_source["bluesky"]),  # is_retweet or not_a_post
            "emojis_with_posts": len(emoji_posts),
            "twitter_images": {k: len(v) for k, v in listings.items()},
            "fi_images": {e: size.fi_per_emotion for e in FI_GROUPS},
            "fi_placeholders": 6,
        },
        "formats": formats,
        "eras": {s: [ERAS[s][0].date().isoformat(), (ERAS[s][0] + timedelta(days=ERAS[s][1])).date().isoformat()] for s in ERAS},
    }
    write_json(out / "world.json", world)
    return world
