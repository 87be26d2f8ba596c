"""sample: temporal windows, the per-emoji cap, balanced splits, release CSVs and stats figures."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from smileynet.contracts import (
    LABEL_CORRELATION_FIGURE,
    LABEL_DISTRIBUTION_FIGURE,
    WINDOWS_FIGURE,
    manifest_schema,
)
from smileynet.errors import UserError
from smileynet.sample import read_release, sample
from smileynet.vocab import Vocabulary

EMOJIS = ["\U0001f602", "\U0001f60d", "\U0001f480", "\U0001f62d", "\U0001f60a"]
START = datetime(2017, 6, 1, tzinfo=UTC)


@pytest.fixture
def posts_file(write_posts):
    """`posts_file(path, rows)`: posts.parquet from (day offset, emojis, number of images) per post,
    with the vocabulary's categories.csv beside it."""

    def write(path: Path, rows: list[tuple[float, list[str], int]]) -> Path:
        posts = [
            {
                "post_id": f"p{i:05d}",
                "created_at": START + timedelta(days=day),
                "emojis": emojis,
                "image_urls": [f"https://img.example/{i}/{n}.jpg" for n in range(images)],
            }
            for i, (day, emojis, images) in enumerate(rows)
        ]
        write_posts(path, posts)
        Vocabulary.from_emojis(EMOJIS).write_categories_csv(path.parent / "categories.csv")
        return path

    return write


def random_posts(n: int, days: float, seed: int = 0, multi: bool = True) -> list[tuple[float, list[str], int]]:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        k = int(rng.integers(1, 3)) if multi else 1
        emojis = list(dict.fromkeys(EMOJIS[int(j)] for j in rng.choice(5, size=k, p=[0.5, 0.2, 0.15, 0.1, 0.05])))
        rows.append((float(rng.uniform(0, days)), emojis, int(rng.integers(1, 3))))
    return rows


def manifest(out: Path) -> list[dict]:
    return pq.read_table(out / "manifest.parquet").to_pylist()


def test_windows_cap_and_one_row_per_image(posts_file, tmp_path):
    rows = [(d, [EMOJIS[0]], 1) for d in np.linspace(0, 29.99, 50)]  # window 0: 50 posts of one emoji
    rows += [(30.0 + d, [EMOJIS[0]], 2) for d in np.linspace(0, 5, 8)]  # window 1: 8 posts, two images each
    rows += [(61.0, [EMOJIS[1], EMOJIS[0]], 3)]  # window 2
    posts = posts_file(tmp_path / "c" / "posts.parquet", rows)
    report = sample(posts, tmp_path / "out", cap=20, val_per_class=0, test_per_class=0)
    rows_out = manifest(tmp_path / "out")
    assert pq.read_schema(tmp_path / "out" / "manifest.parquet").equals(manifest_schema())
    per_window = Counter(r["window"] for r in rows_out if r["image_id"].endswith("_0"))
    assert per_window == {0: 20, 1: 8, 2: 1}
    assert report["windows"] == 3 and report["images"] == 20 + 16 + 3 == len(rows_out)
    last = [r for r in rows_out if r["window"] == 2]
    assert [r["image_id"] for r in last] == ["p00058_0", "p00058_1", "p00058_2"]
    assert last[0]["labels"] == [1, 0] and last[0]["emojis"] == [EMOJIS[1], EMOJIS[0]]
    assert {r["url"] for r in last} == {f"https://img.example/58/{n}.jpg" for n in range(3)}


def test_a_post_chosen_through_several_emojis_is_kept_once_and_sampling_is_seeded(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", random_posts(600, 70))
    sample(posts, tmp_path / "a", cap=40, val_per_class=0, test_per_class=0, seed=1)
    sample(posts, tmp_path / "b", cap=40, val_per_class=0, test_per_class=0, seed=1)
    sample(posts, tmp_path / "c2", cap=40, val_per_class=0, test_per_class=0, seed=2)
    a = manifest(tmp_path / "a")
    assert len({r["image_id"] for r in a}) == len(a)
    assert a == manifest(tmp_path / "b")
    assert {r["post_id"] for r in a} != {r["post_id"] for r in manifest(tmp_path / "c2")}
    kept = {r["post_id"]: r for r in a}.values()
    for window in {r["window"] for r in kept}:  # each emoji reaches the cap through its own draws
        counts = Counter(e for r in kept if r["window"] == window for e in r["emojis"])
        assert counts[EMOJIS[0]] >= 40


def test_splits_are_balanced_by_category_and_disjoint_by_post(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", random_posts(3000, 40, multi=False))
    sample(posts, tmp_path / "out", cap=4000, val_per_class=20, test_per_class=40, seed=3)
    rows = manifest(tmp_path / "out")
    splits_of_post: dict[str, set] = {}
    for r in rows:
        splits_of_post.setdefault(r["post_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits_of_post.values())
    for split, target in (("valid", 20), ("test", 40)):
        counts = Counter(label for r in rows if r["split"] == split for label in r["labels"])
        assert all(target <= counts[c] <= target + 1 for c in range(5)), counts  # a post may add 2 images
    assert sum(r["split"] == "train" for r in rows) > len(rows) // 2


def test_a_rare_category_keeps_half_of_its_images_for_training(posts_file, tmp_path):
    rows = [(1.0, [EMOJIS[0]], 1)] * 200 + [(2.0, [EMOJIS[4]], 1)] * 10
    posts = posts_file(tmp_path / "c" / "posts.parquet", rows)
    sample(posts, tmp_path / "out", val_per_class=50, test_per_class=100)
    rare = Counter(r["split"] for r in manifest(tmp_path / "out") if r["labels"] == [4])
    assert rare["train"] >= 5 and rare["test"] >= 1


def test_release_csvs_round_trip_and_from_release(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", random_posts(300, 50))
    sample(posts, tmp_path / "out", cap=4000, val_per_class=10, test_per_class=10)
    rows = manifest(tmp_path / "out")
    with open(tmp_path / "out" / "train.csv", newline="") as f:
        first = next(csv.DictReader(f))
    assert set(first) == {"url", "labels"} and first["labels"].startswith("[")
    release = read_release(tmp_path / "out")
    assert release.vocab.emojis == tuple(EMOJIS)
    for split in ("train", "valid", "test"):
        ours = [(r["url"], r["labels"]) for r in rows if r["split"] == split]
        theirs = release.manifest.filter(release.manifest["split"] == split)
        assert list(zip(theirs["url"].to_list(), theirs["labels"].to_list())) == ours
    from typer.testing import CliRunner

    from smileynet.cli import app

    result = CliRunner().invoke(
        app, ["sample", "--from-release", str(tmp_path / "out"), "--out", str(tmp_path / "again"), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    for name in ("train.csv", "valid.csv", "test.csv", "categories.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()
    assert len(manifest(tmp_path / "again")) == len(rows)


def test_release_with_glyph_categories_and_bad_labels(tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "categories.csv").write_text("category,unicode\njoy,\U0001f602\nskull,U+1F480\n", encoding="utf-8")
    (folder / "train.csv").write_text('url,labels\nimg/a.jpg,"[0, 1]"\nimg/b.jpg,[1]\n')
    release = read_release(folder)
    assert release.manifest["labels"].to_list() == [[0, 1], [1]]
    assert release.manifest["emojis"].to_list()[0] == ["\U0001f602", "\U0001f480"]
    (folder / "test.csv").write_text("url,labels\nimg/c.jpg,[7]\n")
    with pytest.raises(UserError, match=r"test.csv: line 2"):
        read_release(folder)
    with pytest.raises(UserError, match="no train.csv"):
        read_release(tmp_path)


def test_stats_figures_and_counts(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", random_posts(400, 65))
    report = sample(posts, tmp_path / "out", cap=30, val_per_class=5, test_per_class=5)
    stats = tmp_path / "out" / "stats"
    for name in (LABEL_DISTRIBUTION_FIGURE, LABEL_CORRELATION_FIGURE, WINDOWS_FIGURE):
        assert (stats / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["figures"] == [LABEL_DISTRIBUTION_FIGURE, LABEL_CORRELATION_FIGURE, WINDOWS_FIGURE]
    import json

    numbers = json.loads((stats / "stats.json").read_text())
    assert sum(numbers["before"]) > sum(numbers["after"])
    assert sum(numbers["posts_per_window"]["sampled"].values()) == report["posts_kept"]


def test_fig_2_splits_the_92_emojis_over_rows_of_legible_glyphs(monkeypatch):
    from smileynet import glyphs
    from smileynet.sample import stats
    from smileynet.vocab import default_vocabulary

    figures = []
    monkeypatch.setattr(stats, "png_bytes", lambda fig: figures.append(fig) or b"")
    emojis = list(default_vocabulary().emojis)
    counts = list(range(92, 0, -1))
    stats.label_distribution_figure(emojis, counts, {"train": counts, "test": [1] * 92})
    axes = figures[0].axes
    assert len(axes) == 8  # 4 rows for the collected posts, 4 for the sampled images
    assert [len(ax.patches) for ax in axes[:4]] == [23] * 4 and sum(len(ax.patches) for ax in axes[4:]) == 2 * 92
    assert len({ax.get_ylim() for ax in axes[:4]}) == 1  # one scale across the rows of a panel
    assert figures[0].get_size_inches()[0] * glyphs.FIGURE_DPI <= 1100
    if glyphs.emoji_font_path() is not None:  # without the font, the ticks are names
        stats.label_correlation_figure(emojis, np.eye(92))
        offsets = {box.xybox for box in figures[1].axes[0].artists}
        assert len(figures[1].axes[0].artists) == 2 * 92 and len(offsets) == 4  # two staggered rows per axis


def test_label_correlation_is_pearson_over_the_images(monkeypatch):
    from smileynet.sample import stats

    labels = [[0, 1], [0], [1, 2], [0, 1], [], [2]]
    hot = np.zeros((len(labels), 4))
    for i, row in enumerate(labels):
        hot[i, row] = 1
    expected = np.corrcoef(hot[:, :3].T)
    corr = stats.label_correlation(labels, 4)
    assert np.allclose(corr[:3, :3], expected)
    assert corr[3].tolist() == [0.0, 0.0, 0.0, 0.0]  # never present: no correlation, not NaN
    monkeypatch.setattr(stats, "CORRELATION_ROWS", 2)  # the same, accumulated two rows at a time
    assert np.allclose(stats.label_correlation(iter(labels), 4), corr)


def test_bad_input(posts_file, tmp_path):
    with pytest.raises(UserError, match="not found"):
        sample(tmp_path / "missing.parquet", tmp_path / "out")
    posts = posts_file(tmp_path / "c" / "posts.parquet", [(0.0, ["\U0001f355"], 1)])
    with pytest.raises(UserError, match="no post"):
        sample(posts, tmp_path / "out")
    with pytest.raises(UserError, match="--cap"):
        sample(posts, tmp_path / "out", cap=0)


def test_posts_folder_of_parts_gives_the_same_dataset(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", random_posts(200, 40))
    sample(posts, tmp_path / "file", cap=10, val_per_class=3, test_per_class=3)
    table = pq.read_table(posts)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(table.slice(0, 120), folder / "part-0.parquet")
    pq.write_table(table.slice(120), folder / "part-1.parquet")
    (folder / "collect_report.json").write_text("{}")  # what else a collect folder holds is not read as posts
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(folder / "categories.csv")
    sample(folder, tmp_path / "folder", cap=10, val_per_class=3, test_per_class=3)
    assert manifest(tmp_path / "folder") == manifest(tmp_path / "file")


def _skewed_posts(n: int = 2400, days: float = 120, seed: int = 5) -> list[tuple[float, list[str], int]]:
    """One emoji on most posts, the others rare: the shape of a real emoji distribution."""
    rng = np.random.default_rng(seed)
    return [
        (
            float(rng.uniform(0, days)),
            [EMOJIS[int(rng.choice(5, p=[0.7, 0.12, 0.08, 0.06, 0.04]))]],
            int(rng.integers(1, 3)),
        )
        for _ in range(n)
    ]


def _top_share(rows: list[dict], k: int = 1) -> float:
    """Share of the training labels that go to the k most frequent emojis."""
    counts = Counter(label for r in rows if r["split"] == "train" for label in r["labels"])
    return sum(n for _, n in counts.most_common(k)) / sum(counts.values())


def test_raw_sampling_keeps_the_size_and_the_held_out_splits_and_is_more_skewed(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", _skewed_posts())
    temporal_report = sample(posts, tmp_path / "temporal", cap=60, val_per_class=10, test_per_class=20, seed=4)
    raw_report = sample(posts, tmp_path / "raw", cap=60, val_per_class=10, test_per_class=20, seed=4, sampling="raw")
    temporal, raw = manifest(tmp_path / "temporal"), manifest(tmp_path / "raw")
    assert temporal_report["splits"] == raw_report["splits"]  # same train size, in images
    assert raw_report["sampling"] == "raw" and temporal_report["sampling"] == "temporal"
    for split in ("valid", "test"):
        assert [r for r in raw if r["split"] == split] == [r for r in temporal if r["split"] == split]
    held = {r["post_id"] for r in raw if r["split"] != "train"}
    assert not held & {r["post_id"] for r in raw if r["split"] == "train"}
    assert len({r["image_id"] for r in raw}) == len(raw)
    # The cap flattens the distribution; the raw draw keeps its skew: 0.7 of posts carry one emoji.
    assert _top_share(raw, 1) > _top_share(temporal, 1) + 0.15
    assert _top_share(raw, 1) == pytest.approx(0.7, abs=0.06)
    assert [r["created_at"] for r in raw] == sorted(r["created_at"] for r in raw)


def test_raw_sampling_is_seeded(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", _skewed_posts(900, 90))
    for name, seed in (("a", 1), ("b", 1), ("c2", 2)):
        sample(posts, tmp_path / name, cap=40, val_per_class=5, test_per_class=5, seed=seed, sampling="raw")
    a = manifest(tmp_path / "a")
    assert a == manifest(tmp_path / "b")
    assert {r["image_id"] for r in a} != {r["image_id"] for r in manifest(tmp_path / "c2")}
    with pytest.raises(UserError, match="--sampling"):
        sample(posts, tmp_path / "bad", sampling="uniform")
    with pytest.raises(UserError, match="--from-release"):
        sample(None, tmp_path / "bad", from_release=tmp_path / "a", sampling="raw")


def test_from_release_keeps_extra_columns_and_files_as_found(tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    categories = "category,unicode\nface with tears of joy,\U0001f602\nskull,\U0001f480\n"
    (folder / "categories.csv").write_text(categories, encoding="utf-8")
    train = 'tweet_id,url,labels,retweets\n901,img/a.jpg,"[0, 1]",3\n902,img/b.jpg,[1],0\n'
    (folder / "train.csv").write_text(train, encoding="utf-8")
    (folder / "test.csv").write_text("tweet_id,url,labels,retweets\n903,img/c.jpg,[0],7\n", encoding="utf-8")
    sample(None, tmp_path / "out", from_release=folder)
    assert (tmp_path / "out" / "categories.csv").read_text(encoding="utf-8") == categories  # glyphs, not U+...
    assert (tmp_path / "out" / "train.csv").read_text(encoding="utf-8") == train
    with open(tmp_path / "out" / "valid.csv", newline="") as f:  # absent from the release: written, empty
        assert list(csv.reader(f)) == [["url", "labels"]]
    rows = manifest(tmp_path / "out")
    assert [(r["post_id"], r["split"], r["labels"]) for r in rows] == [
        ("901", "train", [0, 1]),
        ("902", "train", [1]),
        ("903", "test", [0]),
    ]
    sample(None, folder, from_release=folder)  # onto itself: the files stay as they were
    assert (folder / "train.csv").read_text(encoding="utf-8") == train


@pytest.mark.parametrize("column", ["face with tears of joy|skull", "\U0001f602|U+1F480", "joy|skull"])
def test_categories_csv_without_a_unicode_column(tmp_path, column):
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "categories.csv").write_text("category\n" + column.replace("|", "\n") + "\n", encoding="utf-8")
    (folder / "train.csv").write_text("url,labels\nimg/a.jpg,[1]\n")
    release = read_release(folder)
    assert release.vocab.emojis == ("\U0001f602", "\U0001f480")
    assert release.vocab.names == ("face with tears of joy", "skull")
    assert release.manifest["emojis"].to_list() == [["\U0001f480"]]
    (folder / "categories.csv").write_text("category\njoy\nnot an emoji\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"categories.csv: line 3: not an emoji"):
        read_release(folder)
    (folder / "categories.csv").write_text("name\njoy\n", encoding="utf-8")
    with pytest.raises(UserError, match="'unicode' or 'category' column"):
        read_release(folder)


def test_the_datasheet_gives_sources_dates_filters_deletions_and_the_sensitive_policy(posts_file, tmp_path):
    posts = posts_file(tmp_path / "c" / "posts.parquet", [(d, [EMOJIS[0]], 1) for d in (0.5, 10.0, 40.0)])
    totals = {"read": 50, "kept": 3, "dropped": {"no_image": 30, "deleted": 9, "sensitive": 8}}
    (tmp_path / "c" / "collect_report.json").write_text(json.dumps({"totals": totals}))
    (tmp_path / "c" / "config.yaml").write_text("inputs: [/archives/bluesky-2020-01.jsonl.zst]\nsource: bluesky\n")
    report = sample(posts, tmp_path / "out", cap=20, val_per_class=0, test_per_class=0)
    first, last = (START + timedelta(days=d) for d in (0.5, 40.0))
    assert report["dates"] == {"first": str(first.date()), "last": str(last.date())}
    sheet = (tmp_path / "out" / "DATASHEET.md").read_text("utf-8")
    for fact in (
        f"{first.date()} to {last.date()}",
        "bluesky-2020-01.jsonl.zst",
        "50 posts read, 3 kept",
        "dropped as no_image: 30",
        "deletions honoured: 9",
        "were dropped, as `smileynet collect` does by default: 8",
        "Removal requests",
        "images: 3 (train 3, valid 0, test 0)",
    ):
        assert fact in sheet, fact
    assert "/archives/" not in sheet

    (tmp_path / "c" / "collect_report.json").unlink()
    sample(posts, tmp_path / "bare", cap=20, val_per_class=0, test_per_class=0)
    sheet = (tmp_path / "bare" / "DATASHEET.md").read_text("utf-8")
    assert "collect report: not found" in sheet and "may hold sensitive images" in sheet
