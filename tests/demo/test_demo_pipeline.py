"""`smileynet demo`: the real commands end to end on a tiny world, resumable and idempotent."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import tarfile
from dataclasses import asdict
from pathlib import Path

import pytest

from smileynet.demo.pipeline import DemoSettings
from smileynet.files import write_config

STAGES = [
    "world",
    "listen bluesky",
    "collect",
    "sample",
    "download",
    "train",
    "evaluate",
    "sample raw",
    "download raw",
    "train raw",
    "evaluate raw",
    "train objects",
    "transfer twitter",
    "transfer fi",
    "report",
]


def demo(out: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smileynet", "demo", "--out", str(out), "--preset", "tiny", "--no-open", *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_folder_is_continued_only_with_the_flags_that_made_it(tmp_path):
    write_config(tmp_path / "demo.yaml", asdict(DemoSettings.for_run(10.0, 0, "tiny")))
    result = demo(tmp_path, "--seed", "1", timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"smileynet: error: {tmp_path} was made with --seed 0; rerun with those flags to continue, or use a new --out"
    ]


def test_both_table1_variants_train_for_the_same_steps_and_share_the_test_split(tmp_path):
    from smileynet.demo.pipeline import plan

    stages = {
        stage.name: stage.argv for stage in plan(tmp_path, DemoSettings.for_run(10.0, 0, "full"), "http://127.0.0.1:1")
    }
    assert [n for n in stages if n not in ("listen bluesky", "collect")][:8] == STAGES[3:11]
    assert stages["sample"][stages["sample"].index("--sampling") + 1] == "temporal"
    assert stages["sample raw"][stages["sample raw"].index("--sampling") + 1] == "raw"
    for flag in ("--seed", "--cap", "--val-per-class", "--test-per-class"):  # so valid and test are the same posts
        assert (
            stages["sample"][stages["sample"].index(flag) + 1]
            == stages["sample raw"][stages["sample raw"].index(flag) + 1]
        )
    assert (
        stages["train"][stages["train"].index("--steps") + 1]
        == stages["train raw"][stages["train raw"].index("--steps") + 1]
    )
    assert stages["train raw"][stages["train raw"].index("--data") + 1] == str(tmp_path / "shards-raw")
    for name in ("evaluate", "evaluate raw"):
        assert stages[name][stages[name].index("--data") + 1] == str(tmp_path / "shards")
    assert str(tmp_path / "run-raw") in stages["report"]


def test_table2_baseline_is_trained_without_smileys_and_given_to_both_transfers(tmp_path):
    from smileynet.demo.pipeline import plan

    stages = {s.name: s.argv for s in plan(tmp_path, DemoSettings.for_run(10.0, 0, "full"), "http://127.0.0.1:1")}
    names = list(stages)
    baseline = stages["train objects"]
    assert baseline[baseline.index("--data") + 1] == str(tmp_path / "world" / "objects")
    assert baseline[baseline.index("--arch") + 1] == stages["train"][stages["train"].index("--arch") + 1]
    for bench in ("transfer twitter", "transfer fi"):
        assert names.index("train objects") < names.index(bench)
        argv = stages[bench]
        assert argv[argv.index("--baseline") + 1] == str(tmp_path / "run-objects" / "model")
        assert argv[argv.index("--baseline-features") + 1] == "pre_logits"


def in_unit(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0


@pytest.mark.e2e
@pytest.mark.timeout(1500)  # 2.5 min on a quiet 2-core CPU, 9 min seen with a second heavy job beside it
def test_tiny_demo_runs_every_stage_for_real_and_reruns_idempotently(tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "demo"
    result = demo(out, "--quiet")
    assert result.returncode == 0, result.stderr[-4000:]
    world = json.loads((out / "world" / "world.json").read_text())
    expected = world["expected"]

    # collect found exactly the posts the world holds to keep, and dropped the rest for a reason
    posts = pq.read_table(out / "collect" / "posts.parquet").to_pylist()
    assert len(posts) == expected["posts_kept"]
    assert len({p["post_id"] for p in posts}) == len(posts)
    assert len({p["source"] for p in posts}) == 3
    assert all(1 <= len(p["emojis"]) <= 5 and p["image_urls"] for p in posts)
    assert sum(len(p["image_urls"]) for p in posts) == expected["images_of_kept_posts"]
    totals = json.loads((out / "collect" / "collect_report.json").read_text())["totals"]
    assert totals["kept"] == expected["posts_kept"]
    assert totals["dropped"]["duplicate"] == expected["duplicates"]
    for rule, count in expected["dropped_by_rule"].items():
        if rule == "is_retweet":  # a Bluesky repost is a repost record, not a post: counted either way
            assert count - expected["bluesky_reposts"] <= totals["dropped"][rule] <= count
        else:
            assert totals["dropped"][rule] == count, rule
    assert (
        totals["dropped"]["malformed"] >= len(world["formats"]["twitter-v1"]["files"]) + 1
    )  # corrupt members + cut line

    # sample: a manifest with three splits, labels inside the vocabulary
    manifest = pq.read_table(out / "dataset" / "manifest.parquet").to_pylist()
    assert {r["split"] for r in manifest} == {"train", "valid", "test"}
    assert all(0 <= label < 92 for r in manifest for label in r["labels"])
    with open(out / "dataset" / "categories.csv", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 92

    # download: shards over loopback; the 404s and broken files are not among the samples
    samples = 0
    for split in ("train", "valid", "test"):
        tars = sorted((out / "shards" / split).glob("*.tar"))
        assert tars, split
        for path in tars:
            with tarfile.open(path) as tar:
                samples += sum(1 for name in tar.getnames() if name.endswith(".json"))
    assert 0.8 * len(manifest) < samples < len(manifest)

    # train and evaluate
    config = json.loads((out / "run" / "model" / "config.json").read_text())
    assert config["arch"] == "tiny" and config["num_classes"] == 92 and len(config["vocab"]) == 92
    with open(out / "run" / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(math.isfinite(float(r["loss"])) for r in rows if r.get("loss"))
    metrics = json.loads((out / "run" / "eval_test.json").read_text())
    for key in ("mtop1", "mtop3", "mtop5", "auc", "map"):
        assert in_unit(metrics[key]) and in_unit(metrics["random"][key]), key
    assert metrics["n"] > 0 and metrics["train_sampling"] == "temporal"
    raw = json.loads((out / "run-raw" / "eval_test.json").read_text())  # Table 1's Raw-Dist., on the same test split
    assert raw["train_sampling"] == "raw" and (raw["data"], raw["n"]) == (metrics["data"], metrics["n"])

    # transfer, both benchmarks, every protocol's accuracy a fraction
    for bench, splits in (("twitter", {"five_agrees", "four_agrees", "three_agrees"}), ("fi", {"all"})):
        results = json.loads((out / "transfer" / bench / "results.json").read_text())
        assert set(results["splits"]) == splits
        for split in results["splits"].values():
            protocols = split["protocols"]
            assert {"knn", "head", "zero_shot_binary", "finetune"} <= set(protocols)
            for protocol in protocols.values():
                assert in_unit(protocol["smileynet"]["accuracy"]["mean"])
            for name in ("knn", "head", "finetune"):  # Table 2's baseline row, the ObjectNet stand-in
                assert in_unit(protocols[name]["baseline"]["accuracy"]["mean"]), name
        assert results["baseline"]["features"] == "pre_logits"
    assert (out / "transfer" / "fi" / "emoji_fingerprints.csv").is_file()

    # the report, and the summary naming every stage
    html = (out / "report.html").read_text(encoding="utf-8")
    assert len(html) > 10_000 and "<html" in html.lower()
    summary = json.loads((out / "summary.json").read_text())
    assert [s["stage"] for s in summary["stages"]] == STAGES
    assert all(s["seconds"] >= 0 for s in summary["stages"])

    # a rerun skips every finished stage and changes nothing
    state = json.loads((out / "demo.json").read_text())
    again = demo(out)
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stderr.count("already done, skipped") == len(STAGES) - 1 and "already generated" in again.stderr
    assert json.loads((out / "demo.json").read_text()) == state
    assert "Report:" in again.stdout


class FakeCommands:
    """Stands in for the subprocess: records each argv, writes the stage's outputs, returns an exit code."""

    def __init__(self, rc: int = 0, output: str = "") -> None:
        self.calls: list[list[str]] = []
        self.rc, self.output = rc, output

    def __call__(self, command, log_path, echo):
        self.calls.append(command[3:])
        if self.rc == 0:
            for path in self.outputs:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("x")
        return self.rc, self.output


def test_runner_skips_finished_stages_and_reruns_the_ones_after_a_rerun(tmp_path, monkeypatch):
    from smileynet.demo import pipeline

    fake = FakeCommands()
    monkeypatch.setattr(pipeline, "_run_logged", fake)
    first = pipeline.Stage("first", ["collect", "x"], [tmp_path / "a" / "out.txt"], [tmp_path / "a"])
    second = pipeline.Stage("second", ["sample", "y"], [tmp_path / "b" / "out.txt"], [tmp_path / "b"])
    fake.outputs = first.outputs + second.outputs
    runner = pipeline.Runner(tmp_path, quiet=True)
    runner.run(first, 1, 2)
    runner.run(second, 2, 2)
    assert fake.calls == [["collect", "x"], ["sample", "y"]]

    again = pipeline.Runner(tmp_path, quiet=True)  # a rerun: both recorded in demo.json
    again.run(first, 1, 2)
    again.run(second, 2, 2)
    assert len(fake.calls) == 2

    (tmp_path / "a" / "out.txt").unlink()  # an output gone: that stage and every later one run again
    third = pipeline.Runner(tmp_path, quiet=True)
    third.run(first, 1, 2)
    third.run(second, 2, 2)
    assert fake.calls[2:] == [["collect", "x"], ["sample", "y"]]


def test_runner_continues_an_interrupted_stage_and_stops_at_a_stub(tmp_path, monkeypatch):
    from smileynet.demo import pipeline
    from smileynet.errors import UserError

    fake = FakeCommands()
    monkeypatch.setattr(pipeline, "_run_logged", fake)
    checkpoint = tmp_path / "run" / "checkpoints" / "state.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text("x")
    train = pipeline.Stage(
        "train",
        ["train", "--steps", "5"],
        [tmp_path / "run" / "model" / "config.json"],
        [tmp_path / "run"],
        resume_when=checkpoint.is_file,
    )
    fake.outputs = train.outputs
    pipeline.Runner(tmp_path, quiet=True).run(train, 1, 1)
    assert fake.calls == [["train", "--steps", "5", "--resume"]] and checkpoint.is_file()

    report = pipeline.Stage("report", ["report", "run"], [tmp_path / "report.html"])
    failing = FakeCommands(rc=1, output="smileynet: error: no posts\n")
    monkeypatch.setattr(pipeline, "_run_logged", failing)
    with pytest.raises(UserError, match=r"stage 'report' failed \(exit 1\): smileynet: error: no posts"):
        pipeline.Runner(tmp_path, quiet=True).run(report, 1, 1)
    assert "report" not in json.loads((tmp_path / "demo.json").read_text())["stages"]


def test_the_demo_marks_the_models_it_trains(tmp_path, monkeypatch):
    """Both Table 1 models and Table 2's baseline get `"demo": true` in config.json once their train
    stage succeeds."""
    from smileynet.demo import pipeline
    from smileynet.model import create_model, load, save

    stages = {s.name: s for s in pipeline.plan(tmp_path, DemoSettings.for_run(10.0, 0, "tiny"), "http://127.0.0.1:1")}
    assert [s.argv[0] for s in stages.values()].count("train") == 3
    for name, run in (("train", "run"), ("train raw", "run-raw"), ("train objects", "run-objects")):
        stage = stages[name]
        save(create_model("tiny", 3, vocab=["😀", "😂", "😍"], image_size=32), tmp_path / run / "model")
        assert load(tmp_path / run).config.demo is False
        fake = FakeCommands()
        fake.outputs = []  # the model saved above stands for what the command wrote
        monkeypatch.setattr(pipeline, "_run_logged", fake)
        model_files = [p for p in stage.outputs if p.parent.name == "model"]
        pipeline.Runner(tmp_path, quiet=True).run(
            pipeline.Stage(stage.name, stage.argv, model_files, finish=stage.finish), 1, 1
        )
        assert fake.calls and fake.calls[0][0] == "train"
        assert load(tmp_path / run).config.demo is True
        assert json.loads((tmp_path / run / "model" / "config.json").read_text())["demo"] is True
