"""The demo's posts written in their real archive formats: the Archive Team stream grab of
Twitter v1.1 stream files, twarc2 (API v2) pages, and Bluesky Jetstream events, each with the
noise a real archive carries (notices, deletes, a cut-off record, junk members)."""

from __future__ import annotations

import bz2
import io
import json
import tarfile
import zlib
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import zstandard

from smileynet.demo.plan import Post, b32, media_key, snowflake

# ---------------------------------------------------------------- Twitter v1.1 and the stream grab


def _v1_time(t: datetime) -> str:
    return t.strftime("%a %b %d %H:%M:%S +0000 %Y")


def _v1_user(author: int) -> dict:
    return {
        "id": author,
        "id_str": str(author),
        "name": f"user {author % 1000}",
        "screen_name": f"user{author}",
        "location": None,
        "description": "",
        "protected": False,
        "verified": False,
        "followers_count": author % 997,
        "friends_count": author % 313,
        "statuses_count": author % 5000,
        "created_at": "Mon Jan 05 10:00:00 +0000 2015",
        "lang": "en",
        "default_profile": True,
    }


def v1_status(post: Post, base_url: str, rng: np.random.Generator) -> dict:
    """A Twitter API v1.1 status as the streaming API delivered it."""
    link = "https://t.co/" + media_key(rng)[:10]
    media = []
    for n, path in enumerate(post.images, 1):
        media_id = int(post.id) - n
        media.append(
            {
                "id": media_id,
                "id_str": str(media_id),
                "indices": [0, 0],
                "media_url": f"{base_url}/{path}",
                "media_url_https": f"{base_url}/{path}",
                "url": link,
                "display_url": "pic.twitter.com/" + link[13:],
                "expanded_url": f"https://twitter.com/user{post.author}/status/{post.id}/photo/{n}",
                "type": "photo",
                "sizes": {
                    "large": {"w": 1024, "h": 768, "resize": "fit"},
                    "thumb": {"w": 150, "h": 150, "resize": "crop"},
                },
            }
        )
    if post.flaw == "no_image" and rng.random() < 0.5:  # a video is not a photo
        key = media_key(rng)
        media.append(
            {
                "id": int(post.id) - 1,
                "id_str": str(int(post.id) - 1),
                "indices": [0, 0],
                "media_url": f"{base_url}/thumbs/{key}.jpg",
                "media_url_https": f"{base_url}/thumbs/{key}.jpg",
                "url": link,
                "display_url": "pic.twitter.com/" + link[13:],
                "type": "video",
                "expanded_url": f"https://twitter.com/user{post.author}/status/{post.id}/video/1",
                "video_info": {
                    "aspect_ratio": [16, 9],
                    "variants": [{"content_type": "video/mp4", "url": f"{base_url}/video/{key}.mp4"}],
                },
            }
        )

    def entities(text: str) -> tuple[dict, str, list[int]]:
        entities: dict = {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []}
        if "#" in text:
            tag = text.rsplit("#", 1)[1]
            start = len(text) - len(tag) - 1
            entities["hashtags"].append({"text": tag, "indices": [start, len(text)]})
        if "https://example.com/" in text:
            url = text[text.index("https://example.com/") :]
            short = "https://t.co/" + media_key(rng)[:10]
            text = text.replace(url, short)
            start = text.index(short)
            entities["urls"].append(
                {"url": short, "expanded_url": url, "display_url": url[8:], "indices": [start, start + len(short)]}
            )
        if text.startswith("@"):
            name = text[1:].split(" ", 1)[0]
            entities["user_mentions"].append(
                {"screen_name": name, "name": name, "id": 42, "id_str": "42", "indices": [0, len(name) + 1]}
            )
        shown = len(text)
        if media:
            text = f"{text} {link}"
            for m in media:
                m["indices"] = [shown + 1, len(text)]
            entities["media"] = [dict(m) for m in media[:1]]
        return entities, text, [0, shown]

    full_entities, full_text, full_range = entities(post.text)
    status: dict[str, Any] = {
        "created_at": _v1_time(post.created),
        "id": int(post.id),
        "id_str": post.id,
        "text": full_text,
        "display_text_range": full_range,
        "source": '<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>',
        "truncated": False,
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "in_reply_to_screen_name": None,
        "user": _v1_user(post.author),
        "geo": None,
        "coordinates": None,
        "place": None,
        "contributors": None,
        "is_quote_status": False,
        "quote_count": 0,
        "reply_count": 0,
        "retweet_count": 0,
        "favorite_count": 0,
        "entities": full_entities,
        "favorited": False,
        "retweeted": False,
        "filter_level": "low",
        "lang": "en",
        "timestamp_ms": str(int(post.created.timestamp() * 1000)),
    }
    if media:
        status["extended_entities"] = {"media": media}
        status["possibly_sensitive"] = False
    if post.long:  # the stream's "compatibility" form: text cut at 140 characters, the rest in extended_tweet
        self_link = "https://t.co/" + media_key(rng)[:10]
        cut = post.text[:112].rstrip() + "\u2026 " + self_link
        status["text"], status["truncated"], status["display_text_range"] = (
            cut,
            True,
            [0, len(cut) - len(self_link) - 1],
        )
        status["entities"] = {
            "hashtags": [],
            "user_mentions": [],
            "symbols": [],
            "urls": [
                {
                    "url": self_link,
                    "expanded_url": f"https://twitter.com/i/web/status/{post.id}",
                    "display_url": f"twitter.com/i/web/status/{post.id[:4]}\u2026",
                    "indices": [len(cut) - len(self_link), len(cut)],
                }
            ],
        }
        status.pop("extended_entities", None)
        status["extended_tweet"] = {"full_text": full_text, "display_text_range": full_range, "entities": full_entities}
        if media:
            status["extended_tweet"]["extended_entities"] = {"media": media}
    if post.flaw == "is_reply":
        parent = int(post.id) - int(rng.integers(10**9, 10**12))
        status.update(
            in_reply_to_status_id=parent,
            in_reply_to_status_id_str=str(parent),
            in_reply_to_user_id=post.author,
            in_reply_to_user_id_str=str(post.author),
            in_reply_to_screen_name=f"user{post.author}",
        )
    elif post.flaw == "is_quote":
        quoted = int(post.id) - int(rng.integers(10**9, 10**12))
        status.update(
            is_quote_status=True,
            quoted_status_id=quoted,
            quoted_status_id_str=str(quoted),
            quoted_status={
                "created_at": _v1_time(post.created - timedelta(hours=3)),
                "id": quoted,
                "id_str": str(quoted),
                "text": "the original post",
                "user": _v1_user(post.author + 1),
                "entities": {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []},
                "is_quote_status": False,
                "lang": "en",
            },
        )
    elif post.flaw == "is_retweet":
        original = dict(status)
        original_id = int(post.id) - int(rng.integers(10**9, 10**12))
        original.update(
            id=original_id,
            id_str=str(original_id),
            user=_v1_user(post.author + 7),
            created_at=_v1_time(post.created - timedelta(hours=5)),
        )
        name = f"user{post.author + 7}"
        status["retweeted_status"] = original
        status["text"] = f"RT @{name}: {original['text']}"
        status["truncated"] = False
        status.pop("extended_tweet", None)
        status["entities"] = dict(
            status["entities"],
            user_mentions=[
                {
                    "screen_name": name,
                    "name": name,
                    "id": post.author + 7,
                    "id_str": str(post.author + 7),
                    "indices": [3, 4 + len(name)],
                }
            ],
        )
    return status


def _v1_delete(rng: np.random.Generator, t: datetime) -> dict:
    sid = snowflake(t - timedelta(days=int(rng.integers(1, 300))), rng)
    uid = int(rng.integers(10**7, 10**9))
    return {
        "delete": {
            "status": {"id": int(sid), "id_str": sid, "user_id": uid, "user_id_str": str(uid)},
            "timestamp_ms": str(int(t.timestamp() * 1000)),
        }
    }


def _bz2_lines(lines: list[str]) -> bytes:
    return bz2.compress(("\n".join(lines) + "\n").encode("utf-8"))


def _add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_stream_grab(
    folder: Path, posts: list[Post], duplicates: list[Post], base_url: str, rng: np.random.Generator
) -> dict:
    """Archive Team tars, one per month, of per-minute `.json.bz2` stream files."""
    by_minute: dict[datetime, list[str]] = defaultdict(list)
    counts: Counter[str] = Counter(dict.fromkeys(("delete", "limit", "corrupt_members", "junk_members"), 0))
    for post in posts + duplicates:
        minute = post.created.replace(second=0, microsecond=0)
        by_minute[minute].append(
            json.dumps(v1_status(post, base_url, np.random.default_rng(int(post.id) % 2**32)), ensure_ascii=False)
        )
    for minute, lines in by_minute.items():
        for _ in range(int(rng.integers(0, 3))):
            lines.insert(int(rng.integers(len(lines) + 1)), json.dumps(_v1_delete(rng, minute)))
            counts["delete"] += 1
        if rng.random() < 0.1:
            lines.insert(
                int(rng.integers(len(lines) + 1)),
                json.dumps(
                    {"limit": {"track": int(rng.integers(1, 500)), "timestamp_ms": str(int(minute.timestamp() * 1000))}}
                ),
            )
            counts["limit"] += 1
    months: dict[str, list[datetime]] = defaultdict(list)
    for minute in sorted(by_minute):
        months[minute.strftime("%Y-%m")].append(minute)
    files = []
    for month, minutes in months.items():
        path = folder / f"archiveteam-twitter-stream-{month}.tar"
        with tarfile.open(path, "w") as tar:
            for minute in minutes:
                _add_member(
                    tar, minute.strftime("%Y/%m/%d/%H/%M.json.bz2"), _bz2_lines(by_minute[minute]), minute.timestamp()
                )
            first = minutes[0]
            # what real grabs also hold: a cut-off member and macOS resource-fork junk
            junk_minute = first.replace(hour=23, minute=59)
            while junk_minute in by_minute:
                junk_minute -= timedelta(minutes=1)
            notices = [json.dumps(_v1_delete(rng, junk_minute)) for _ in range(20)]
            corrupt = _bz2_lines(notices)
            _add_member(
                tar, junk_minute.strftime("%Y/%m/%d/%H/%M.json.bz2"), corrupt[: len(corrupt) // 2], first.timestamp()
            )
            _add_member(
                tar,
                first.strftime("%Y/%m/%d/%H/._%M.json.bz2"),
                bytes(rng.integers(0, 256, 82, dtype=np.uint8)),
                first.timestamp(),
            )
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
        url = text[text.index("https://example.com/") :]
        short = "https://t.co/" + media_key(rng)[:10]
        text = text.replace(url, short)
        start = text.index(short)
        entities["urls"] = [
            {"start": start, "end": start + len(short), "url": short, "expanded_url": url, "display_url": url[8:]}
        ]
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
        media.append(
            {
                "media_key": key,
                "type": "video",
                "preview_image_url": f"{{BASE}}/thumbs/{key}.jpg",
                "duration_ms": 7000,
                "width": 1280,
                "height": 720,
            }
        )
    if keys:
        link = "https://t.co/" + media_key(rng)[:10]
        start = len(text) + 1
        text = f"{text} {link}"
        entities.setdefault("urls", []).append(
            {
                "start": start,
                "end": len(text),
                "url": link,
                "media_key": keys[0],
                "expanded_url": f"https://twitter.com/user{post.author}/status/{post.id}/photo/1",
                "display_url": "pic.twitter.com/" + link[13:],
            }
        )
    tweet = {
        "id": post.id,
        "text": text,
        "created_at": _v2_time(post.created),
        "author_id": str(post.author),
        "conversation_id": post.id,
        "lang": "en",
        "possibly_sensitive": False,
        "reply_settings": "everyone",
        "edit_history_tweet_ids": [post.id],
        "public_metrics": {
            "retweet_count": 0,
            "reply_count": 0,
            "like_count": int(rng.integers(0, 50)),
            "quote_count": 0,
        },
    }
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
        tweet["entities"] = {
            "mentions": [{"start": 3, "end": 4 + len(name), "username": name, "id": str(post.author + 7)}]
        }
    return tweet, media


def write_twarc2(
    path: Path, posts: list[Post], duplicates: list[Post], base_url: str, rng: np.random.Generator
) -> dict:
    """twarc2 search output: one API response page per line, then a line cut off mid-stream."""
    everything = sorted(posts + duplicates, key=lambda p: p.created, reverse=True)  # search pages run newest first
    lines = []
    for start in range(0, len(everything), 20):
        page = everything[start : start + 20]
        data, media, users = [], [], {}
        for post in page:
            tweet, tweet_media = v2_tweet(post, np.random.default_rng(int(post.id) % 2**32))
            data.append(tweet)
            media += tweet_media
            users[str(post.author)] = {
                "id": str(post.author),
                "username": f"user{post.author}",
                "name": f"user {post.author % 1000}",
                "created_at": "2015-01-05T10:00:00.000Z",
                "protected": False,
                "verified": False,
            }
        response = {
            "data": data,
            "includes": {"media": media, "users": list(users.values())},
            "meta": {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data)},
            "__twarc": {
                "url": "https://api.twitter.com/2/tweets/search/all?query=has%3Aimages",
                "version": "2.12.1",
                "retrieved_at": "2022-07-02T10:00:00+00:00",
            },
        }
        lines.append(json.dumps(response, ensure_ascii=False).replace("{BASE}", base_url))
    cut = json.dumps({"data": [{"id": "1", "text": "cut off"}]})
    lines.append(cut[: len(cut) // 2])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"files": [path.name], "pages": len(lines) - 1, "cut_lines": 1}


# ---------------------------------------------------------------- Bluesky Jetstream


def _bsky_images(paths: list[str], rng: np.random.Generator) -> dict:
    return {
        "$type": "app.bsky.embed.images",
        "images": [
            {
                "alt": "",
                "aspectRatio": {"width": 4, "height": 3},
                "image": {
                    "$type": "blob",
                    "ref": {"$link": p.rsplit("/", 1)[1].split("@")[0]},
                    "mimeType": "image/jpeg",
                    "size": int(rng.integers(20000, 900000)),
                },
            }
            for p in paths
        ],
    }


def _facet(text: str, needle: str, feature: dict) -> dict:
    start = len(text[: text.index(needle)].encode("utf-8"))
    return {"index": {"byteStart": start, "byteEnd": start + len(needle.encode("utf-8"))}, "features": [feature]}


def jetstream_event(post: Post, rng: np.random.Generator) -> dict:
    """A Jetstream `commit` event creating the post (a repost is a repost record, not a post)."""
    _, _, did, collection, rkey = post.id.split("/")
    time_us = int(post.created.timestamp() * 1_000_000) + int(rng.integers(0, 900_000))
    cid = "bafyrei" + b32(rng, 52)
    if post.flaw == "is_retweet":
        subject = f"at://did:plc:{b32(rng, 24)}/app.bsky.feed.post/3k{b32(rng, 11)}"
        repost = {
            "$type": "app.bsky.feed.repost",
            "createdAt": post.created.isoformat().replace("+00:00", "Z"),
            "subject": {"cid": "bafyrei" + b32(rng, 52), "uri": subject},
        }
        return {
            "did": did,
            "time_us": time_us,
            "kind": "commit",
            "commit": {
                "rev": "3l" + b32(rng, 11),
                "operation": "create",
                "collection": "app.bsky.feed.repost",
                "rkey": rkey,
                "record": repost,
                "cid": cid,
            },
        }
    text = post.text
    record: dict = {
        "$type": "app.bsky.feed.post",
        "createdAt": post.created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "langs": ["en"],
        "text": text,
    }
    facets: list[dict] = []
    if "https://example.com/" in text:
        url = text[text.index("https://example.com/") :]
        facets.append(_facet(text, url, {"$type": "app.bsky.richtext.facet#link", "uri": url}))
    if "#" in text:
        tag = text.rsplit("#", 1)[1]
        facets.append(_facet(text, "#" + tag, {"$type": "app.bsky.richtext.facet#tag", "tag": tag}))
    if text.startswith("@"):
        handle = text[1:].split(" ", 1)[0]
        facets.append(
            _facet(text, "@" + handle, {"$type": "app.bsky.richtext.facet#mention", "did": f"did:plc:{b32(rng, 24)}"})
        )
        text = record["text"] = text.replace("@" + handle, "@" + handle + ".bsky.social", 1)
        facets[-1] = _facet(text, "@" + handle + ".bsky.social", facets[-1]["features"][0])
    if facets:
        record["facets"] = facets
    if post.images:
        record["embed"] = _bsky_images(post.images, rng)
    other = {"cid": "bafyrei" + b32(rng, 52), "uri": f"at://did:plc:{b32(rng, 24)}/app.bsky.feed.post/3k{b32(rng, 11)}"}
    if post.flaw == "is_reply":
        record["reply"] = {"root": other, "parent": other}
    elif post.flaw == "is_quote":
        record["embed"] = (
            {
                "$type": "app.bsky.embed.recordWithMedia",
                "record": {"$type": "app.bsky.embed.record", "record": other},
                "media": _bsky_images(post.images, rng),
            }
            if post.images
            else {"$type": "app.bsky.embed.record", "record": other}
        )
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": "3l" + b32(rng, 11),
            "operation": "create",
            "collection": collection,
            "rkey": rkey,
            "record": record,
            "cid": cid,
        },
    }


def _jetstream_noise(rng: np.random.Generator, t: datetime) -> dict:
    did = f"did:plc:{b32(rng, 24)}"
    time_us = int(t.timestamp() * 1_000_000)
    kind = int(rng.integers(4))
    if kind == 0:
        return {
            "did": did,
            "time_us": time_us,
            "kind": "identity",
            "identity": {
                "did": did,
                "handle": "someone.bsky.social",
                "seq": int(rng.integers(10**9)),
                "time": t.isoformat(),
            },
        }
    if kind == 1:
        return {
            "did": did,
            "time_us": time_us,
            "kind": "account",
            "account": {"active": True, "did": did, "seq": int(rng.integers(10**9)), "time": t.isoformat()},
        }
    if kind == 2:
        return {
            "did": did,
            "time_us": time_us,
            "kind": "commit",
            "commit": {
                "rev": "3l" + b32(rng, 11),
                "operation": "delete",
                "collection": "app.bsky.feed.post",
                "rkey": "3k" + b32(rng, 11),
            },
        }
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": "3l" + b32(rng, 11),
            "operation": "create",
            "collection": "app.bsky.feed.like",
            "rkey": "3k" + b32(rng, 11),
            "record": {
                "$type": "app.bsky.feed.like",
                "createdAt": t.isoformat().replace("+00:00", "Z"),
                "subject": {"cid": "bafyrei" + b32(rng, 52), "uri": f"at://{did}/app.bsky.feed.post/3k{b32(rng, 11)}"},
            },
            "cid": "bafyrei" + b32(rng, 52),
        },
    }


def write_jetstream(path: Path, posts: list[Post], duplicates: list[Post], rng: np.random.Generator) -> dict:
    """Jetstream events, zstd-compressed JSON lines: what the demo's Jetstream host replays."""
    lines, noise = [], 0
    for post in sorted(posts + duplicates, key=lambda p: p.created):
        lines.append(json.dumps(jetstream_event(post, np.random.default_rng(_stable(post.id))), ensure_ascii=False))
        if rng.random() < 0.3:
            lines.append(json.dumps(_jetstream_noise(rng, post.created)))
            noise += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(("\n".join(lines) + "\n").encode("utf-8")))
    return {"files": [path.name], "events": len(lines), "other_events": noise}


def _stable(text: str) -> int:
    """A seed from a string that does not change between Python processes (unlike hash())."""
    return zlib.crc32(text.encode("utf-8"))
