"""The demo's generated world: what a real user would have before running SmileyNet.

`generate_world(out, size, seed, base_url)` writes, under `out/`:

- `archives/`: posts in their real archive formats, spread over several months per source:
  - `archiveteam-twitter-stream-YYYY-MM.tar`: Archive Team stream grabs, one `.json.bz2` of
    Twitter API v1.1 stream lines per minute (`YYYY/MM/DD/HH/MM.json.bz2`), with `delete` and
    `limit` notices, long tweets (`extended_tweet`), a corrupt member and a dotfile junk member;
  - `twarc2-search-2022.jsonl`: twarc2 (API v2) response pages, one per line, `includes.media`
    holding the photos, ending with a line cut off mid-stream;
  - `bluesky/`: not written here: `smileynet listen bluesky` records it, from the demo's loopback
    Jetstream (`smileynet.demo.jetstream_host`) replaying `jetstream/events.jsonl.zst`: Bluesky
    events (posts, likes, identity and account events, deletes), image blobs served at the
    CDN's `/img/feed_fullsize/plain/{did}/{cid}@jpeg`.
  Besides the posts to keep there are posts each filter rule must drop (URL, hashtag, mention,
  reply, quote, retweet, no photo, no smiley, more than 5 emojis) and duplicates.
- `www/`: the images the posts link to, served by `smileynet.demo.image_host` (a few are missing, to
  answer 404, or broken). A kept post's picture shows its emojis (`pictures.compose`), with label
  noise: sometimes another emoji, sometimes none.
- `benchmarks/twitter/`: a Twitter I look-alike (`images/`, `twitter_{five,four,three}_agrees.txt`,
  `ground_truth/` 5-fold lists); the picture shows emojis of the image's polarity (the Emoji
  Sentiment Ranking), more reliably the more annotators agree.
- `benchmarks/fi/`: an FI look-alike (`<emotion>/<emotion>_NNNN.jpg`, one emoji group per emotion,
  plus Flickr-style placeholder copies).
- `objects/`: the ObjectNet stand-in's training data, an image-folder dataset (`train/`, `valid/`,
  `categories.csv`) of the non-smiley objects the posts' pictures also show, without smileys.
- `world.json`: the sizes, the seed, the server address and the counts a correct pipeline must
  find (posts to keep, drops per rule, duplicates...).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import numpy as np

from smileynet.demo import pictures
from smileynet.demo.archives import write_jetstream, write_stream_grab, write_twarc2
from smileynet.demo.benchmark_worlds import (
    FI_GROUPS,
    fi_benchmark,
    object_pictures,
    twitter_benchmark,
    write_twitter_listings,
)
from smileynet.demo.pictures import CLUTTER, Picture, render
from smileynet.demo.plan import (
    ERAS,
    EVENTS,
    FLAWS,
    HEAD,
    SOURCE_SHARE,
    WorldSize,
    over_cap,
    pictures_for_posts,
    plan_posts,
)
from smileynet.files import write_json
from smileynet.lexicon import vocabulary_sentiment
from smileynet.progress import progress
from smileynet.vocab import Vocabulary, default_vocabulary


def _render_many(items: list[Picture], root: Path, workers: int, quiet: bool, desc: str) -> None:
    if workers <= 1:
        for picture in progress(items, total=len(items), desc=desc, unit="img", quiet=quiet):
            render(picture, root)
        return
    with ProcessPoolExecutor(workers) as pool:
        for _ in progress(
            pool.map(render, items, [root] * len(items), chunksize=64),
            total=len(items),
            desc=desc,
            unit="img",
            quiet=quiet,
        ):
            pass


def generate_world(
    out: Path, size: WorldSize, seed: int, base_url: str, workers: int = 1, quiet: bool = False, cap: int | None = None
) -> dict:
    """Write the whole world under `out` (see the module docstring); returns what `world.json` holds,
    with how many posts the `sample --cap` of `cap` must leave out per emoji (when given)."""
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
        "twitter-v2": write_twarc2(
            archives / "twarc2-search-2022.jsonl", by_source["twitter-v2"], dups["twitter-v2"], base_url, rng
        ),
        "bluesky": write_jetstream(out / "jetstream" / "events.jsonl.zst", by_source["bluesky"], dups["bluesky"], rng),
    }

    images = pictures_for_posts(rng, posts, vocab, size, scores)
    _render_many(images, out / "www", workers, quiet, "world images")
    twitter_pics, listings = twitter_benchmark(rng, vocab, scores, size.twitter_images)
    twitter_root = out / "benchmarks" / "twitter"
    _render_many(twitter_pics, twitter_root, workers, quiet, "Twitter I images")
    write_twitter_listings(twitter_root, listings, rng)
    fi_root = out / "benchmarks" / "fi"
    fi_pics = fi_benchmark(rng, vocab, scores, size.fi_per_emotion)
    _render_many(fi_pics, fi_root, workers, quiet, "FI images")
    placeholder = pictures.jpeg_bytes(
        pictures.background(np.random.default_rng(seed), 161, 81), np.random.default_rng(seed)
    )
    for emotion in ("awe", "fear"):  # Flickr's "photo no longer available", byte-identical copies
        for i in range(3):
            (fi_root / emotion / f"{emotion}_{size.fi_per_emotion + i + 1:04d}.jpg").write_bytes(placeholder)

    objects_root = out / "objects"
    _render_many(object_pictures(rng, size.objects_per_class), objects_root, workers, quiet, "object images")
    Vocabulary.from_emojis(list(CLUTTER)).write_categories_csv(objects_root / "categories.csv")

    emoji_posts = Counter(e for p in kept for e in p.emojis)
    top5 = [e for e, _ in emoji_posts.most_common(5)]
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
            "objects": {"classes": len(CLUTTER), "train_per_class": size.objects_per_class},
        },
        "skew": {  # how the posts' emojis are drawn (plan.HEAD, plan.EVENTS): by construction, not found
            "head": list(HEAD),
            "top_emoji": top5[0] if top5 else None,
            "top_emoji_share_of_posts": round(sum(top5[0] in p.emojis for p in kept) / len(kept), 4) if top5 else 0,
            "top5_share_of_posts": round(sum(any(e in top5 for e in p.emojis) for p in kept) / len(kept), 4)
            if kept
            else 0,
            "events": [
                {
                    "emoji": ev.emoji,
                    "source": ev.source,
                    "from": (ERAS[ev.source][0] + timedelta(days=ev.start_day)).date().isoformat(),
                    "days": ev.days,
                    "share": ev.share,
                }
                for ev in EVENTS
            ],
            "cap": cap,
            "over_cap": dict(over_cap(posts, cap).most_common()) if cap else None,
        },
        "formats": formats,
        "eras": {
            s: [ERAS[s][0].date().isoformat(), (ERAS[s][0] + timedelta(days=ERAS[s][1])).date().isoformat()]
            for s in ERAS
        },
    }
    write_json(out / "world.json", world)
    return world
