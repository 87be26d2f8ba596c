"""The demo's generated world: valid archive formats, the promised counts, images with signal."""

from __future__ import annotations

import bz2
import io
import json
import tarfile
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import zstandard
from PIL import Image

from smileynet.demo import pictures
from smileynet.demo.benchmark_worlds import FI_GROUPS
from smileynet.demo.image_host import free_port, serve_folder
from smileynet.demo.plan import WorldSize
from smileynet.demo.world import generate_world
from smileynet.images import BadImage, open_image

BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("world")
    return root, generate_world(root, WorldSize.tiny(), seed=3, base_url=BASE, quiet=True)


def read_stream_grab(archives: Path) -> tuple[list[dict], Counter]:
    records, members = [], Counter()
    for tar_path in sorted(archives.glob("archiveteam-twitter-stream-*.tar")):
        with tarfile.open(tar_path) as tar:
            for member in tar.getmembers():
                data = tar.extractfile(member).read()
                if Path(member.name).name.startswith("."):
                    members["dotfile"] += 1
                    continue
                assert member.name.count("/") == 4 and member.name.endswith(".json.bz2"), member.name
                try:
                    text = bz2.decompress(data).decode("utf-8")
                except (OSError, ValueError, EOFError):
                    members["corrupt"] += 1
                    continue
                members["ok"] += 1
                records += [json.loads(line) for line in text.splitlines()]
    return records, members


def read_twarc2(path: Path) -> tuple[list[dict], list[dict], int]:
    tweets, media, bad = [], [], 0
    for line in path.read_text("utf-8").splitlines():
        try:
            page = json.loads(line)
        except ValueError:
            bad += 1
            continue
        tweets += page["data"]
        media += page["includes"]["media"]
    return tweets, media, bad


def read_jetstream(path: Path) -> list[dict]:
    with open(path, "rb") as f:
        text = zstandard.ZstdDecompressor().stream_reader(f).read().decode("utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_archives_parse_in_their_real_formats(world):
    root, info = world
    archives = root / "archives"
    expected = info["expected"]
    posts_total = expected["posts_kept"] + sum(expected["dropped_by_rule"].values())

    v1, members = read_stream_grab(archives)
    statuses = [r for r in v1 if "id_str" in r]
    assert sum(1 for r in v1 if "delete" in r) == info["formats"]["twitter-v1"]["delete"] > 0
    assert sum(1 for r in v1 if "limit" in r) == info["formats"]["twitter-v1"]["limit"]
    assert members["corrupt"] == members["dotfile"] == len(info["formats"]["twitter-v1"]["files"]) >= 3
    assert any(s.get("extended_tweet") and s["truncated"] for s in statuses)
    assert all(s["created_at"].endswith("2017") for s in statuses)

    v2, v2_media, cut = read_twarc2(archives / "twarc2-search-2022.jsonl")
    assert cut == 1
    assert {m["media_key"] for m in v2_media} >= {k for t in v2 for k in t.get("attachments", {}).get("media_keys", [])}
    assert all(m["url"].startswith(BASE) for m in v2_media if m["type"] == "photo")

    events = read_jetstream(root / "jetstream" / "events.jsonl.zst")
    posts = [
        e
        for e in events
        if e["kind"] == "commit"
        and e["commit"].get("collection") == "app.bsky.feed.post"
        and e["commit"]["operation"] == "create"
    ]
    reposts = [e for e in events if e["kind"] == "commit" and e["commit"].get("collection") == "app.bsky.feed.repost"]
    assert {e["kind"] for e in events} >= {"commit"} and len(events) > len(posts) + len(reposts)

    ids = (
        [s["id_str"] for s in statuses]
        + [t["id"] for t in v2]
        + [f"at://{e['did']}/{e['commit']['collection']}/{e['commit']['rkey']}" for e in posts + reposts]
    )
    assert len(set(ids)) == posts_total
    assert len(ids) == posts_total + expected["duplicates"]
    assert sum(expected["kept_per_source"].values()) == expected["posts_kept"]


def test_every_filter_rule_has_posts_to_drop(world):
    _, info = world
    dropped = info["expected"]["dropped_by_rule"]
    assert set(dropped) == {
        "has_url",
        "has_hashtag",
        "has_mention",
        "is_reply",
        "is_quote",
        "is_retweet",
        "no_image",
        "no_smiley",
        "too_many_emojis",
    }
    assert all(n >= 3 for n in dropped.values())  # at least one per source


def test_image_host_serves_pictures_404s_and_broken_files(world):
    root, info = world
    v2, media, _ = read_twarc2(root / "archives" / "twarc2-search-2022.jsonl")
    paths = [m["url"][len(BASE) + 1 :] for m in media if m["type"] == "photo"]
    events = read_jetstream(root / "jetstream" / "events.jsonl.zst")
    for e in events:
        record = e.get("commit", {}).get("record", {})
        for image in record.get("embed", {}).get("images", []):
            paths.append(f"img/feed_fullsize/plain/{e['did']}/{image['image']['ref']['$link']}@jpeg")
    outcomes = Counter()
    with serve_folder(root / "www", free_port()) as base:
        for path in paths[:60]:
            try:
                with urllib.request.urlopen(f"{base}/{path}", timeout=10) as response:
                    data = response.read()
            except urllib.error.HTTPError as err:
                outcomes[err.code] += 1
                continue
            try:
                open_image(data)
                outcomes["ok"] += 1
            except BadImage:
                outcomes["broken"] += 1
    assert outcomes["ok"] > 40
    on_disk = [p for p in (root / "www").rglob("*") if p.is_file()]
    assert len(on_disk) == info["expected"]["images_of_kept_posts"] - info["expected"]["images_missing"] > 0
    assert info["expected"]["images_broken"] > 0


def test_benchmarks_in_their_original_layouts(world):
    root, info = world
    twitter = root / "benchmarks" / "twitter"
    three = (twitter / "twitter_three_agrees.txt").read_text().split("\n")
    five = {line for line in (twitter / "twitter_five_agrees.txt").read_text().split("\n") if line}
    assert five <= set(three)
    for line in five:
        name, label = line.split()
        assert label in ("0", "1") and (twitter / "images" / name).is_file()
    fold_tests = [
        set((twitter / "ground_truth" / "five_agrees" / f"test{k}" / "test.txt").read_text().split("\n")) - {""}
        for k in range(1, 6)
    ]
    assert set().union(*fold_tests) == five and sum(map(len, fold_tests)) == len(five)
    fi = root / "benchmarks" / "fi"
    for emotion in FI_GROUPS:
        assert len(list((fi / emotion).glob(f"{emotion}_*.jpg"))) >= info["expected"]["fi_images"][emotion]


def test_same_seed_same_world(tmp_path):
    small = WorldSize(posts=40, flawed_per_rule=1, duplicates=2, twitter_images=10, fi_per_emotion=2)
    first = generate_world(tmp_path / "a", small, seed=5, base_url=BASE, quiet=True)
    again = generate_world(tmp_path / "b", small, seed=5, base_url=BASE, quiet=True)
    generate_world(tmp_path / "c", small, seed=6, base_url=BASE, quiet=True)
    assert again == first
    for name in ("archives/twarc2-search-2022.jsonl", "jetstream/events.jsonl.zst"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    pictures_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "www").rglob("*.jpg"))
    assert pictures_a and all(
        (tmp_path / "a" / p).read_bytes() == (tmp_path / "b" / p).read_bytes() for p in pictures_a
    )


def test_pictures_carry_the_emoji():
    """A linear classifier on 24x24 pixels tells three emojis' pictures apart far above chance."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    classes = ["😡", "🤢", "💀", "😍"]
    features, labels = [], []
    for label, key in enumerate(classes):
        for _ in range(50):
            image = pictures.compose(rng, [key], mood=float(rng.uniform(-1, 1)), width=96, height=96, clutter=0.0)
            data = pictures.jpeg_bytes(image, rng)
            small = Image.open(io.BytesIO(data)).convert("RGB").resize((24, 24))
            features.append(np.asarray(small, np.float32).ravel() / 255)
            labels.append(label)
    x, y = np.array(features), np.array(labels)
    order = rng.permutation(len(y))
    train, test = order[:140], order[140:]
    accuracy = LogisticRegression(max_iter=2000).fit(x[train], y[train]).score(x[test], y[test])
    assert accuracy > 0.55, accuracy  # chance is 0.25


def test_mood_sets_the_brightness():
    rng = np.random.default_rng(1)
    bright = [np.asarray(pictures.background(rng, 32, 32, mood=0.8)).mean() for _ in range(40)]
    dark = [np.asarray(pictures.background(rng, 32, 32, mood=-0.8)).mean() for _ in range(40)]
    assert np.mean(bright) > np.mean(dark) + 20


def test_object_pictures_for_the_baseline_and_the_skew_in_world_json(world):
    from smileynet.data.layout import dataset_vocabulary, local_records
    from smileynet.demo.pictures import CLUTTER

    root, info = world
    objects = root / "objects"
    vocab = dataset_vocabulary(objects)
    assert vocab.emojis == CLUTTER
    train = local_records(objects, "train", vocab)  # the image-folder layout `train --data` reads
    assert len(train) == len(CLUTTER) * info["expected"]["objects"]["train_per_class"]
    assert Counter(r.labels[0] for r in train) == {i: WorldSize.tiny().objects_per_class for i in range(len(CLUTTER))}
    assert local_records(objects, "valid", vocab)
    skew = info["skew"]
    assert skew["head"][0] == "😂" and 0 < skew["top_emoji_share_of_posts"] <= skew["top5_share_of_posts"] <= 1
    assert {e["emoji"] for e in skew["events"]} == {"😱", "😡", "🤒", "🤩"}
