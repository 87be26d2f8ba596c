"""`smileynet report`: the page built from small outputs of the other stages, validated as HTML,
and opened in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from smileynet.files import write_config, write_json
from smileynet.report.page import BUILT_IN_NOTE, esc
from smileynet.vocab import Vocabulary

EMOJIS = ["😂", "😍", "👻", "💀", "☠", "😪", "😴", "😢"]


# ---------------------------------------------------------------- inputs of the other stages


def write_dataset(folder: Path, rng: np.random.Generator, write_posts) -> tuple[Path, Path]:
    """posts.parquet as collect writes it, then the real `smileynet sample` on it."""
    from typer.testing import CliRunner

    from smileynet.cli import app

    start = datetime(2018, 1, 1, tzinfo=UTC)
    n = 240
    weights = np.array([8, 5, 1, 1, 1, 2, 2, 3], dtype=float)
    posts = []
    for i in range(n):
        k = int(rng.integers(1, 4))
        chosen = list(rng.choice(len(EMOJIS), size=k, replace=False, p=weights / weights.sum()))
        posts.append(
            {
                "post_id": str(1000 + i),
                "created_at": start + timedelta(days=float(rng.uniform(0, 95))),
                "text": "look " + "".join(EMOJIS[c] for c in chosen),
                "emojis": [EMOJIS[c] for c in chosen],
                "image_urls": [f"https://example.invalid/{i}.jpg"],
                "author_id": str(i % 17),
            }
        )
    collect = folder / "collect"
    write_posts(collect / "posts.parquet", posts)
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(collect / "categories.csv")  # sample's vocabulary
    sample = folder / "sample"
    result = CliRunner().invoke(
        app,
        [
            "sample",
            str(collect / "posts.parquet"),
            "--out",
            str(sample),
            "--cap",
            "20",
            "--val-per-class",
            "2",
            "--test-per-class",
            "4",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return collect, sample


def write_collect_report(folder: Path, shared_fixtures: Path) -> Path:
    """The real `collect` on the Twitter v1.1 fixtures; its report is the input."""
    from typer.testing import CliRunner

    from smileynet.cli import app

    out = folder / "collect"
    result = CliRunner().invoke(app, ["collect", str(shared_fixtures / "twitter-v1"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out / "collect_report.json"


def write_run(folder: Path, rng: np.random.Generator) -> Path:
    """A training run folder: metrics.csv (train rows + validation rows), config.yaml, model/."""
    from smileynet.model import create_model, save
    from smileynet.train.trainer import COLUMNS  # the trainer's own metrics.csv columns

    run = folder / "run"
    run.mkdir()
    rows = []
    for step in range(1, 61):
        row = {
            "step": step,
            "epoch": step // 20,
            "loss": f"{0.69 * np.exp(-step / 40) + 0.05 * rng.random():.4f}",
            "lr": f"{5e-5 * (1 + np.cos(np.pi * step / 60)):.4g}",
            "images_per_s": f"{120 + 10 * rng.random():.1f}",
            "elapsed_s": step / 2,
        }
        if step % 20 == 0:
            auc = 0.5 + step / 300
            row.update(val_loss=0.7 - step / 200, val_auc=auc, val_mtop1=auc / 4, val_mtop3=auc / 3, val_mtop5=auc / 2)
        rows.append(",".join(str(row.get(c, "")) for c in COLUMNS))
    (run / "metrics.csv").write_text(",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n")
    write_config(
        run / "config.yaml",
        {"arch": "tiny", "steps": 60, "batch_size": 8, "lr": 1e-4, "image_size": 32, "device": "cpu", "seed": 0},
    )
    save(create_model("tiny", len(EMOJIS), vocab=EMOJIS, image_size=32), run / "model")
    return run


def write_evaluation(folder: Path, rng: np.random.Generator) -> Path:
    """An evaluation JSON from `smileynet.metrics.evaluate_scores` on scores and labels."""
    from smileynet import metrics

    targets = (rng.random((60, len(EMOJIS))) < 0.25).astype(np.float32)
    targets[np.arange(60), rng.integers(0, len(EMOJIS), 60)] = 1
    scores = targets * 0.8 + rng.normal(0, 0.6, targets.shape)
    data = metrics.evaluate_scores(scores.astype(np.float32), targets, Vocabulary.from_emojis(EMOJIS))
    path = folder / "evaluate" / "test.json"
    write_json(path, data)
    return path


def _png(path: Path, color: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), color).save(path)


def _fake_embeddings(model, fingerprint, paths, *_, features="logits", **__):
    """Embeddings whose dimensions lean with the label written in each file name (img_<label>_...)."""
    from smileynet.transfer.features import Embeddings

    rows = []
    for path in paths:
        label = int(Path(path).stem.split("_")[1])
        row = np.random.default_rng(int(re.sub(r"\D", "", Path(path).stem))).normal(0, 1, 16)
        row[label % 16] += 2.5
        rows.append(row)
    values = np.asarray(rows, dtype=np.float32)
    values = values[:, : len(EMOJIS)] if features == "logits" else values
    return Embeddings(values, [""] * len(paths), 0.0, len(paths))


def write_transfers(folder: Path, model: Path, monkeypatch) -> tuple[Path, Path]:
    """Real `smileynet transfer` runs on tiny Twitter I and FI layouts. Only the extraction is
    stood in for (`_fake_embeddings`): embeddings that lean with the label, so the tables have
    something to show, fast and whatever the state of the inference stage."""
    from smileynet.transfer import TransferConfig, experiment, run_transfer
    from smileynet.transfer.benchmarks import MIKELS_EMOTIONS

    monkeypatch.setattr(experiment, "cached_embeddings", _fake_embeddings)
    twitter = folder / "twitter"
    names = []
    for i in range(30):
        label = i % 2
        name = f"img_{label}_{i:03d}.png"
        _png(twitter / "images" / name, (40 + 6 * i, 200 * label, 90))
        names.append((name, label))
    for split, count in (("five_agrees", 20), ("four_agrees", 25), ("three_agrees", 30)):
        (twitter / f"twitter_{split}.txt").write_text("".join(f"{n} {y}\n" for n, y in names[:count]))
    fi = folder / "fi"
    for c, emotion in enumerate(MIKELS_EMOTIONS):
        for i in range(6):
            _png(fi / emotion / f"img_{c}_{c}{i:03d}.png", (30 * c, 20 * i, 7 * c + i))
    outs = []
    for kind, root in (("twitter", twitter), ("fi", fi)):
        out = folder / f"transfer-{kind}"
        run_transfer(
            TransferConfig(benchmark=kind, root=root, model=model, out=out, baseline=str(model), folds=5, quiet=True)
        )
        outs.append(out)
    return outs[0], outs[1]


# ---------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def report_inputs(tmp_path_factory, shared_fixtures, write_posts):
    """Every kind of input at once, and the page built from them through the CLI."""
    from typer.testing import CliRunner

    from smileynet.cli import app

    folder = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    collect, sample = write_dataset(folder, rng, write_posts)
    run = write_run(folder, rng)
    monkeypatch = pytest.MonkeyPatch()
    try:
        twitter, fi = write_transfers(folder, run / "model", monkeypatch)
    finally:
        monkeypatch.undo()
    images = folder / "examples"
    for i in range(3):
        _png(images / f"photo_{i}.png", (200, 60 * i, 40))
    (images / "broken.jpg").write_bytes(b"not a picture")
    inputs = [collect, sample, run, twitter, fi]
    out = folder / "out" / "report.html"
    result = CliRunner().invoke(app, ["report", *map(str, inputs), "--out", str(out), "--images", str(images), "-q"])
    assert result.exit_code == 0, result.output
    return {
        "folder": folder,
        "inputs": inputs,
        "out": out,
        "html": out.read_text("utf-8"),
        "run": run,
        "twitter": twitter,
        "fi": fi,
    }


def valid_html(page: str) -> str:
    """`page`, after html5lib's strict parse (it raises on any parse error)."""
    import html5lib

    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    return page


def test_page_is_valid_self_contained_html(report_inputs):
    page = valid_html(report_inputs["html"])
    # nothing is fetched: no scripts, every src and url() an embedded data URI
    assert "<script" not in page
    sources = re.findall(r'\bsrc="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert not re.search(r"url\(|https?://(?!example\.invalid)", page.split("<main>")[1])
    for uri in sources[:20]:
        base64.b64decode(uri.split(",", 1)[1], validate=True)
    assert (report_inputs["out"].with_suffix(".config.yaml")).is_file()


def test_sections_follow_the_inputs(report_inputs):
    page = report_inputs["html"]
    for anchor in ("sample", "training", "prediction", "transfer-twitter", "transfer-fi", "inputs"):
        assert f'<section id="{anchor}">' in page
    assert '<section id="collect">' not in page  # no collect_report.json among these inputs
    # the paper's numbers in rows of their own, beside ours
    for published_number in ("82.69", "76.5", "74.2", "55.81", "87.01"):
        assert published_number in page
    twitter = json.loads((report_inputs["twitter"] / "results.json").read_text())
    ours = twitter["splits"]["five_agrees"]["protocols"]["knn"]["smileynet"]["accuracy"]
    assert f"{100 * ours['mean']:.1f} ± {100 * ours['std']:.1f}" in page
    assert page.count('class="published"') >= 2 + 9 + 2 + 7
    # the baseline is a model dir of ours, not the paper's ImageNet ObjectNet; no demo run, no demo caveat
    assert f"baseline: tiny trained on {report_inputs['run'].name}" in page and "by construction" not in page
    # figures of the transfer runs are embedded (Fig. 4, 6, 7, 8)
    for caption in ("Fig. 4", "Fig. 6", "Fig. 7", "Fig. 8", "Table 5", "Fig. 2", "Fig. 9", "Fig. 5"):
        assert caption in page
    # training summary read from metrics.csv: 60 steps, best validation AUC at step 60
    assert "70.0 / 70.0 (60)" in page
    # Fig. 5: the three readable example images, each with five glyphs; the broken one left out
    assert page.count('class="example"') == 3 and "broken.jpg" not in page
    sample_report = json.loads((report_inputs["inputs"][1] / "sample_report.json").read_text())
    counts = {k: v for k, v in sample_report.items() if isinstance(v, int)}
    assert counts and all(f"<td>{k.replace('_', ' ')}</td><td class=num>{v:,}</td>" in page for k, v in counts.items())


def test_figs_2_and_9_are_the_files_sample_wrote(report_inputs):
    from smileynet.contracts import LABEL_CORRELATION_FIGURE, LABEL_DISTRIBUTION_FIGURE, STATS_DIR
    from smileynet.report.page import png_uri

    page = report_inputs["html"]
    stats = report_inputs["inputs"][1] / STATS_DIR
    for name in (LABEL_DISTRIBUTION_FIGURE, LABEL_CORRELATION_FIGURE):
        assert page.count(png_uri((stats / name).read_bytes())) == 1  # embedded once, not drawn again


def test_evaluation_makes_table_1(report_inputs, tmp_path):
    from smileynet.report import ReportConfig, build_report

    evaluation = write_evaluation(tmp_path, np.random.default_rng(1))
    out = build_report(ReportConfig(inputs=[evaluation], out=tmp_path / "r.html", quiet=True))
    page = valid_html(out.read_text("utf-8"))
    data = json.loads(evaluation.read_text())
    assert "Table 1" in page and "69.8" in page
    assert f"{100 * data['mtop1']:.1f}" in page and f"{100 * data['auc']:.1f}" in page
    assert "Per-emoji AUC" in page
    assert '<section id="training">' not in page and '<section id="transfer-twitter">' not in page


def test_collect_report_section(tmp_path, shared_fixtures):
    from smileynet.report import ReportConfig, build_report

    report = write_collect_report(tmp_path, shared_fixtures)
    out = build_report(ReportConfig(inputs=[report.parent], out=tmp_path / "r.html", quiet=True))
    page = valid_html(out.read_text("utf-8"))
    section = page.split('<section id="collect">')[1].split("</section>")[0]
    totals = json.loads(report.read_text())["totals"]
    assert f"<td>read</td><td class=num>{totals['read']:,}</td>" in section
    for reason, n in totals["dropped"].items():
        if n:
            assert f"<td>{reason.replace('_', ' ')}</td><td class=num>{n:,}</td>" in section
    assert "Malformed records" in section


def test_report_of_a_real_training_run_and_evaluation(tmp_path):
    """`smileynet train` (tiny, 2 steps) and `smileynet evaluate` on a release-layout folder, then
    the report of both: the run's curves and summary, Table 1 with the evaluation's numbers."""
    from PIL import Image
    from typer.testing import CliRunner

    from smileynet.cli import app

    rng = np.random.default_rng(2)
    data = tmp_path / "release"
    (data / "img").mkdir(parents=True)
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(data / "categories.csv")
    for split in ("train", "valid", "test"):
        lines = ["url,labels"]
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(data / "img" / f"{split}_{i}.png")
            lines.append(f'img/{split}_{i}.png,"{sorted(set(rng.integers(0, len(EMOJIS), 2).tolist()))}"')
        (data / f"{split}.csv").write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    run, evaluation = tmp_path / "run", tmp_path / "eval" / "test.json"
    for args in (
        [
            "train",
            "--data",
            str(data),
            "--out",
            str(run),
            "--arch",
            "tiny",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--image-size",
            "16",
            "--val-every",
            "2",
            "--log-every",
            "1",
            "--workers",
            "0",
            "--no-tensorboard",
            "--device",
            "cpu",
            "--quiet",
        ],
        [
            "evaluate",
            str(run / "model"),
            "--data",
            str(data),
            "--split",
            "test",
            "--out",
            str(evaluation),
            "--workers",
            "0",
            "--device",
            "cpu",
            "--quiet",
        ],
        [
            "report",
            str(run),
            str(evaluation),
            str(data),
            "--out",
            str(tmp_path / "r.html"),
            "--images",
            str(data / "img"),
            "--examples",
            "2",
            "--model",
            str(run),  # a run folder, as --help says: its model/
            "--quiet",
        ],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args[0], result.output, result.exception)
    page = valid_html((tmp_path / "r.html").read_text("utf-8"))
    data_eval = json.loads(evaluation.read_text())
    table1 = page.split("Table 1")[1].split("</table>")[0]
    assert f"{100 * data_eval['mtop1']:.1f}" in table1 and f"{100 * data_eval['random']['auc']:.1f}" in table1
    assert "run, test split, n=8" in table1
    assert "Run: run" in page and "train_summary.json" in page and page.count('class="example"') == 2
    assert '<div class="vocab">' in page and "Fig. 2" in page  # the release folder: its labels per split


def test_collect_counts_per_reason_and_file(tmp_path):
    """A report shaped as DESIGN.md describes it: totals, drops per reason, per input file."""
    from smileynet.report import ReportConfig, build_report

    write_json(
        tmp_path / "c" / "collect_report.json",
        {
            "read": 120,
            "kept": 30,
            "dropped": {"no_image": 50, "has_url": 25, "malformed": 15},
            "files": {
                "a.jsonl": {"read": 100, "kept": 20, "dropped": {"no_image": 50, "has_url": 25, "malformed": 5}},
                "b.jsonl.gz": {"read": 20, "kept": 10, "dropped": {"malformed": 10}},
            },
        },
    )
    page = valid_html(
        build_report(ReportConfig(inputs=[tmp_path / "c"], out=tmp_path / "r.html", quiet=True)).read_text()
    )
    section = page.split('<section id="collect">')[1].split("</section>")[0]
    assert section.index("no image") < section.index("has url") < section.index("malformed")  # most first
    assert "55.6%" in section and "16.7%" in section  # 50 and 15 of the 90 dropped
    assert "b.jsonl.gz</td><td class=num>20</td><td class=num>10</td><td class=num>10" in section


def test_bad_inputs_are_one_line_errors(tmp_path):
    import subprocess
    import sys

    from typer.testing import CliRunner

    from smileynet.cli import app
    from smileynet.errors import UserError

    (tmp_path / "empty").mkdir()
    (tmp_path / "results.json").write_text("{not json")
    runner = CliRunner()
    html = ["--out", str(tmp_path / "r.html")]
    for args, reason in (
        ([str(tmp_path / "nowhere"), *html], "input not found"),
        ([str(tmp_path / "empty"), *html], "no report inputs"),
        ([str(tmp_path / "results.json"), *html], "no report inputs"),
        ([str(tmp_path / "empty"), "--model", str(tmp_path), *html], "not a model dir"),
        ([str(tmp_path / "empty"), "--out", str(tmp_path)], "--out is a folder"),
    ):
        result = runner.invoke(app, ["report", *args])
        assert isinstance(result.exception, UserError) and reason in str(result.exception)
    assert not (tmp_path / "r.html").exists()
    done = subprocess.run(
        [sys.executable, "-m", "smileynet", "report", str(tmp_path / "empty"), "--out", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "no report inputs" in done.stderr


def test_missing_keys_never_crash(tmp_path):
    from smileynet.report import ReportConfig, build_report

    (tmp_path / "t").mkdir()
    write_json(tmp_path / "t" / "results.json", {"benchmark": "twitter", "splits": {"five_agrees": {}}})
    write_json(tmp_path / "e.json", {"mtop1": 0.1, "auc": 0.6, "per_category": [{"emoji": "😂"}]})
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.csv").write_text("step,loss\n")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "manifest.parquet").write_bytes(b"PAR1 torn")  # an interrupted write
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"post_id": ["1"], "emojis": [["😂"]]}), tmp_path / "posts.parquet")  # no created_at
    out = build_report(ReportConfig(inputs=[tmp_path], out=tmp_path / "r.html", quiet=True))
    page = valid_html(out.read_text("utf-8"))
    assert "Table 1" in page and "10.0" in page
    assert '<section id="transfer-twitter">' in page
    assert "manifest.parquet: not a readable parquet file" in page and "Fig. 2" in page


@pytest.mark.browser
def test_page_in_chromium(report_inputs, chromium_page):
    page = chromium_page
    page.set_viewport_size({"width": 1280, "height": 900})
    requests = []
    page.on("request", lambda r: not r.url.startswith(("data:", "file:")) and requests.append(r.url))
    page.goto(report_inputs["out"].as_uri())
    page.wait_for_load_state("load")
    assert page.console_errors == []
    assert requests == []
    for anchor in ("sample", "training", "prediction", "transfer-twitter", "transfer-fi"):
        assert page.locator(f"section#{anchor}").is_visible()
    # every image decoded (a broken data URI has naturalWidth 0)
    broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    assert broken == 0
    assert page.evaluate("document.images.length") >= 20  # glyphs, examples and figures, each figure once
    shot = report_inputs["folder"] / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    from PIL import Image

    with Image.open(shot) as image:
        assert image.height > 3000
        colors = image.convert("RGB").resize((64, 256)).getcolors(64 * 256)
        assert len(colors) > 200  # text, tables, plots and glyphs, not a blank page


def test_emoji_names_without_a_colour_font(monkeypatch):
    from smileynet.report import page

    page.emoji.cache_clear()
    monkeypatch.setattr(page, "emoji_data_uri", lambda key, size=32: None)
    try:
        assert page.emoji("😂") == '<span class="emoji-name" title="😂">face with tears of joy</span>'
    finally:
        page.emoji.cache_clear()


def _mutations(data, rng: np.random.Generator, count: int):
    """Copies of `data` with one value somewhere replaced by a wrong type or removed."""
    import copy

    paths = []

    def walk(node, path):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            paths.append((*path, key))
            walk(value, (*path, key))

    walk(data, ())
    for index in rng.choice(len(paths), size=min(count, len(paths)), replace=False):
        *parents, last = paths[index]
        for replacement in (None, "x", [], {}, 7, "remove"):
            mutated = copy.deepcopy(data)
            node = mutated
            for key in parents:
                node = node[key]
            if replacement == "remove" and isinstance(node, dict):
                del node[last]
            else:
                node[last] = replacement
            yield mutated


def test_damaged_results_still_render(report_inputs, tmp_path):
    """results.json, evaluation JSON and collect reports with values removed or of the wrong
    type: the sections are still written (a missing key never crashes the report)."""
    from smileynet.report.dataset import collect_section
    from smileynet.report.training import per_emoji_section, table1
    from smileynet.report.transfer import transfer_sections

    rng = np.random.default_rng(3)
    for name in ("twitter", "fi"):
        original = json.loads((report_inputs[name] / "results.json").read_text())
        for mutated in _mutations(original, rng, 25):  # the figures are not there: only tables are drawn
            assert transfer_sections([(tmp_path / "results.json", mutated)], [])
    evaluation = {
        "mtop1": 0.1,
        "mtop3": 0.2,
        "mtop5": 0.3,
        "auc": 0.6,
        "map": 0.2,
        "n": 10,
        "model": "run/model",
        "split": "test",
        "random": {"mtop1": 0.01, "auc": 0.5},
        "per_category": [{"emoji": "😂", "auc": 0.7, "ap": 0.5, "positives": 3}],
        "skipped_categories": ["😢"],
    }
    for mutated in _mutations(evaluation, rng, 12):
        assert "<table>" in table1([(tmp_path / "e.json", mutated)])
        per_emoji_section(tmp_path / "e.json", mutated)
    collect = {
        "totals": {"read": 9, "kept": 1, "dropped": {"no_image": 5, "malformed": 3}},
        "vocabulary_size": 92,
        "files": {"a.json": {"read": 9, "kept": 1, "dropped": {"no_image": 5, "malformed": 3}}},
        "malformed": [{"file": "a.json", "member": "", "line": 3, "error": "Malformed: cut"}],
    }
    for mutated in _mutations(collect, rng, 12):
        collect_section([(tmp_path / "collect_report.json", mutated)])


def test_example_images_come_from_every_folder(tmp_path):
    from smileynet.report.training import image_files

    for name in ("awe/1.png", "awe/2.png", "awe/3.png", "fear/1.jpg", "fear/notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    picked = image_files([tmp_path], 3)
    assert [p.relative_to(tmp_path).as_posix() for p in picked] == ["awe/1.png", "fear/1.jpg", "awe/2.png"]


def test_table1_puts_our_raw_and_temporal_runs_under_the_paper_rows(tmp_path):
    from smileynet.report.training import table1

    def evaluation(run: str, sampling: str | None, mtop1: float) -> dict:
        return {
            "mtop1": mtop1,
            "mtop3": 0.2,
            "mtop5": 0.3,
            "auc": 0.7,
            "map": 0.1,
            "n": 40,
            "model": f"{run}/model",
            "data": "shards",
            "split": "test",
            "train_sampling": sampling,
            "random": {"mtop1": 0.0123, "mtop3": 0.03, "mtop5": 0.05, "auc": 0.5, "map": 0.02},
        }

    html = table1(
        [
            (tmp_path / "a.json", evaluation("run", "temporal", 0.1111)),
            (tmp_path / "b.json", evaluation("run-raw", "raw", 0.0987)),
            (tmp_path / "c.json", evaluation("other", None, 0.0555)),
        ]
    )
    cells = [row.split("</td>")[0] for row in html.split("<tr")[2:]]
    order = [
        "Random performance",
        "Random performance",
        "SmileyNet (Raw-Dist.)",
        "SmileyNet (Raw-Dist.)",
        "SmileyNet (Temp-Sampling)",
        "SmileyNet (Temp-Sampling)",
        "SmileyNet",
    ]
    assert [c.split("<td>")[-1].split(" <span")[0].split("<span")[0].strip() for c in cells] == order
    assert html.count(">1.2<") == 1  # the random row once: both runs were evaluated on the same split
    rows = html.split("<tr")[2:]
    assert "run-raw, test split" in rows[3] and ">9.9<" in rows[3]
    assert "run, test split" in rows[5] and ">11.1<" in rows[5] and "other" in rows[6]


def test_demo_results_stand_apart_from_the_papers(tmp_path):
    """An evaluation and a transfer run of a model marked `"demo": true`: their rows sit in tables
    of their own, tagged "generated world", with no published row; the run says what the model saw."""
    from smileynet.model import create_model, save
    from smileynet.report import ReportConfig, build_report

    rng = np.random.default_rng(4)
    run = write_run(tmp_path, rng)
    model = create_model("tiny", len(EMOJIS), vocab=EMOJIS, image_size=32)
    model.config.demo = True
    save(model, run / "model")
    evaluation = write_evaluation(tmp_path, rng)
    data = json.loads(evaluation.read_text())
    write_json(evaluation, {**data, "model": str(run / "model"), "split": "test", "train_sampling": "temporal"})
    twitter = {
        "benchmark": "twitter",
        "model": {"path": str(run / "model"), "dim": 8, "demo": True},
        "splits": {s: {"protocols": {"knn": {"smileynet": {"accuracy": {"mean": 0.9, "std": 0.01}}}}}
                   for s in ("five_agrees", "four_agrees", "three_agrees")},
    }  # fmt: skip
    write_json(tmp_path / "transfer" / "results.json", twitter)
    out = build_report(
        ReportConfig(inputs=[run, evaluation, tmp_path / "transfer"], out=tmp_path / "r.html", quiet=True)
    )
    page = valid_html(out.read_text("utf-8"))
    assert "Table 1: emoji prediction (%)" not in page  # no measured evaluation: no table beside the paper's
    generated = page.split("Table 1 on the generated world")[1].split("</table>")[0]
    assert 'class="published"' not in generated and generated.count("generated world") == 2  # random + ours
    assert "only seen the demo&#x27;s generated glyph pictures" in page
    table2 = page.split("Table 2: 1-nearest-neighbour sentiment accuracy on the generated world (demo) (%)")[1]
    table2 = table2.split("</table>")[0]
    assert "90.0 ± 1.0" in table2 and 'class="published"' not in table2 and "generated world" in table2
    assert "Table 2: 1-nearest-neighbour sentiment accuracy (%)" not in page
    assert page.count(esc(BUILT_IN_NOTE)) == 2  # beside Table 1 and Table 2 of the generated world


def test_every_metric_is_a_percentage_with_one_decimal(report_inputs, tmp_path):
    from smileynet.report import ReportConfig, build_report
    from smileynet.report.page import pct

    assert (pct(0.8269), pct(0.5, 0.0123), pct(76.5), pct(None)) == ("82.7", "50.0 ± 1.2", "76.5", "-")
    evaluation = write_evaluation(tmp_path, np.random.default_rng(5))
    page = build_report(ReportConfig(inputs=[evaluation], out=tmp_path / "r.html", quiet=True)).read_text("utf-8")
    for html in (page, report_inputs["html"]):
        assert not re.search(
            r"<td class=num>0\.\d{2,3}</td>", html
        )  # no metric as a fraction (the loss has 4 decimals)
    assert "<th class=num>AUC (%)</th>" in page and "ROC AUC (%)" in page


def test_plots_log_the_loss_and_split_long_emoji_axes(monkeypatch):
    import polars as pl

    from smileynet import glyphs
    from smileynet.report import plots

    figures = []
    monkeypatch.setattr(plots, "_uri", lambda fig: figures.append(fig) or "data:image/png;base64,")
    steps = np.arange(1, 101)
    validated = pl.Series([None if s % 50 else 0.7 for s in steps], dtype=pl.Float64)
    metrics = pl.DataFrame({"step": steps, "loss": 30.0 / steps + 0.1, "val_auc": validated})
    plots.training_curves(metrics)
    loss, validation = figures[0].axes[:2]
    assert loss.get_yscale() == "log" and validation.get_ylim() == (0, 100)
    rows = glyphs.emoji_rows(92)
    assert len(rows) == 4 and sum(len(r) for r in rows) == 92 and max(len(r) for r in rows) <= glyphs.EMOJIS_PER_ROW
    for pixels in (glyphs.GLYPH_PX, glyphs.MATRIX_GLYPH_PX):  # drawn size of a 64 px glyph, in page pixels
        assert 64 * glyphs.glyph_zoom(pixels) * glyphs.FIGURE_DPI / 72 >= 16
    from smileynet.vocab import default_vocabulary

    plots.per_emoji_auc(list(default_vocabulary().emojis), list(np.linspace(0.9, 0.5, 92)))
    assert len(figures[1].axes) == 4 and all(ax.get_ylim() == (0, 100) for ax in figures[1].axes)
