"""`smileynet train` / `evaluate` end to end on CPU: a tiny model on a few dozen generated images."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import save_file
from typer.testing import CliRunner

from smileynet.cli import app
from smileynet.errors import UserError
from smileynet.model import create_model, load
from smileynet.train import TrainConfig, evaluate, resolve, train, trainer
from smileynet.train.checkpoint import load_state
from smileynet.vocab import Vocabulary

EMOJIS = ["😂", "😍", "👻", "💀"]
COLOURS = [(220, 40, 40), (40, 200, 40), (40, 40, 220), (235, 235, 235)]


def make_dataset(root: Path, sizes=(("train", 48), ("valid", 16), ("test", 16)), seed: int = 0) -> Path:
    """A release-layout folder: PNGs whose colour tells their first emoji, CSVs of local paths, categories.csv."""
    root.mkdir(parents=True, exist_ok=True)
    Vocabulary.from_emojis(EMOJIS).write_categories_csv(root / "categories.csv")
    (root / "images").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in sizes:
        with open(root / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["url", "labels"])
            for i in range(n):
                labels = sorted({i % 4} | ({int(rng.integers(4))} if rng.random() < 0.3 else set()))
                pixels = np.clip(rng.normal(COLOURS[labels[0]], 30, (40, 40, 3)), 0, 255).astype(np.uint8)
                path = f"images/{split}_{i}.png"
                Image.fromarray(pixels).save(root / path)
                writer.writerow([path, str(labels)])
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data"))


def tiny(dataset: Path, out: Path, **overrides) -> TrainConfig:
    settings = dict(
        data=str(dataset),
        out=str(out),
        arch="tiny",
        steps=8,
        batch_size=8,
        lr=3e-3,
        image_size=32,
        workers=0,
        log_every=1,
        val_every=0,
        checkpoint_every=4,
        quiet=True,
        tensorboard=False,
    )
    return TrainConfig(**{**settings, **overrides}).check()


def read_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def cli_run(dataset, tmp_path_factory) -> Path:
    """One run through the CLI (YAML config + flags), shared by the tests that read its outputs."""
    run = tmp_path_factory.mktemp("run")
    config = run.parent / "train.yaml"
    config.write_text(yaml.safe_dump({"arch": "tiny", "image-size": 32, "steps": 99, "lr": 3e-3, "log_every": 2}))
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--data",
            str(dataset),
            "--out",
            str(run),
            "--config",
            str(config),
            "--steps",
            "12",
            "--batch-size",
            "8",
            "--val-every",
            "6",
            "--workers",
            "0",
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return run


def test_cli_training_writes_the_run_folder(cli_run):
    model = load(cli_run / "model")
    assert model.config.arch == "tiny" and model.vocab == EMOJIS and model.config.num_classes == 4
    saved = yaml.safe_load((cli_run / "config.yaml").read_text())
    assert saved["steps"] == 12 and saved["lr"] == 3e-3 and saved["log_every"] == 2  # flag > file > default
    assert saved["arch"] == "tiny" and saved["batch_size"] == 8
    rows = read_rows(cli_run)
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10, 12]
    for column in ("epoch", "loss", "lr", "images_per_s", "val_auc", "val_mtop1", "val_mtop3", "val_mtop5"):
        assert column in rows[0]
    validated = [r for r in rows if r["val_auc"]]
    assert [int(r["step"]) for r in validated] == [6, 12]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])  # colours tell the emoji: the loss must fall
    summary = json.loads((cli_run / "train_summary.json").read_text())
    assert summary["model_from"] == "best" and summary["best_step"] in (6, 12)
    best = load(cli_run / "checkpoints" / "best")
    for key, value in best.state_dict().items():
        assert torch.equal(value, model.state_dict()[key])
    assert list((cli_run / "tensorboard").glob("events.out.tfevents.*"))


def test_evaluate_cli_prints_and_writes_json(cli_run, dataset, tmp_path):
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(cli_run / "model"),
            "--data",
            str(dataset),
            "--split",
            "test",
            "--out",
            str(out),
            "--workers",
            "0",
            "--device",
            "cpu",
            "--quiet",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed, written = json.loads(result.stdout), json.loads(out.read_text())
    assert printed == written
    assert written["n"] == 16 and len(written["per_category"]) == 4
    assert written["auc"] > written["random"]["auc"]


def test_evaluate_refuses_a_dataset_with_another_vocabulary(cli_run, tmp_path):
    other = tmp_path / "other"
    make_dataset(other, sizes=(("test", 4),))
    Vocabulary.from_emojis(["😂", "😍", "👻", "😭"]).write_categories_csv(other / "categories.csv")
    with pytest.raises(UserError, match="vocabulary"):
        evaluate(cli_run / "model", other, "test", workers=0, device="cpu", quiet=True)


@pytest.mark.e2e
def test_resume_after_a_kill_gives_the_uninterrupted_loss_curve(dataset, tmp_path, monkeypatch):
    whole = tiny(dataset, tmp_path / "whole")
    train(whole)
    expected = read_rows(tmp_path / "whole")

    killed = tiny(dataset, tmp_path / "killed")
    kill_after_row(monkeypatch, 6)  # two steps past the checkpoint at step 4
    with pytest.raises(KeyboardInterrupt):
        train(killed)
    monkeypatch.undo()
    assert load_state(tmp_path / "killed" / "checkpoints")["step"] == 4
    train(killed, resume=True)
    resumed = read_rows(tmp_path / "killed")
    assert [r["step"] for r in resumed] == [r["step"] for r in expected]
    assert [r["loss"] for r in resumed] == [r["loss"] for r in expected]
    assert [r["val_auc"] for r in resumed] == [r["val_auc"] for r in expected]
    a, b = load(tmp_path / "whole" / "model"), load(tmp_path / "killed" / "model")
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(dataset, tmp_path, monkeypatch):
    normalize, calls = trainer.normalize, []

    def poisoned(batch, config):
        calls.append(1)
        x = normalize(batch, config)
        return x * math.nan if len(calls) > 5 else x

    monkeypatch.setattr(trainer, "normalize", poisoned)
    run = tmp_path / "nan"
    with pytest.raises(UserError, match=r"loss became nan between steps 6 and 6.*step 4"):
        train(tiny(dataset, run))
    assert load_state(run / "checkpoints")["step"] == 4
    good = load(run / "checkpoints" / "last")
    assert all(torch.isfinite(v).all() for v in good.state_dict().values() if v.is_floating_point())


def test_training_starts_from_a_local_pretrained_file(dataset, tmp_path):
    torch.manual_seed(123)
    source = create_model("tiny", 4)
    backbone = {k.removeprefix("backbone."): v for k, v in source.state_dict().items() if k.startswith("backbone.")}
    weights = tmp_path / "backbone.safetensors"
    save_file(backbone, str(weights))
    final = train(tiny(dataset, tmp_path / "run", pretrained=str(weights), steps=1, lr=1e-9, checkpoint_every=1))
    trained = load(final).state_dict()
    conv = "backbone.0.weight"
    assert torch.allclose(trained[conv], source.state_dict()[conv], atol=1e-6)
    torch.manual_seed(0)
    assert not torch.allclose(create_model("tiny", 4).state_dict()[conv], source.state_dict()[conv], atol=1e-3)


def test_class_balanced_positive_weights(dataset):
    labels = [json.loads(row["labels"]) for row in csv.DictReader(open(dataset / "train.csv", encoding="utf-8"))]
    positives = np.array([sum(c in ls for ls in labels) for c in range(4)], dtype=np.float32)
    expected = (len(labels) - positives) / positives
    np.testing.assert_allclose(trainer.class_pos_weight(dataset, 4).numpy(), expected, rtol=1e-6)


def test_config_file_flags_and_errors(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("batch-size: 32\nlr: '0.01'\nchannels_last: 'no'\n")
    config = resolve({"data": "d", "out": "o", "lr": 0.5, "steps": None}, file)
    assert (config.batch_size, config.lr, config.channels_last, config.steps) == (32, 0.5, False, 320_000)
    assert (config.arch, config.image_size, config.pretrained) == ("resnet50", 224, "none")  # the paper's defaults
    file.write_text("learning_rate: 0.1\n")
    with pytest.raises(UserError, match="unknown setting"):
        resolve({"data": "d", "out": "o"}, file)
    with pytest.raises(UserError, match="schedule"):
        resolve({"data": "d", "out": "o", "schedule": "linear"})


def test_crop_scale_defaults_to_the_official_range_and_is_checked(tmp_path):
    assert resolve({"data": "d", "out": "o"}).crop_scale == [0.5, 1.0]
    assert resolve({"data": "d", "out": "o", "crop_scale": "0.08,1"}).crop_scale == [0.08, 1.0]
    file = tmp_path / "c.yaml"
    file.write_text("crop-scale: [0.25, 0.9]\n")
    assert resolve({"data": "d", "out": "o"}, file).crop_scale == [0.25, 0.9]
    for bad in ("0.5", "0,1", "0.9,0.5", "a,b", "0.5,1.5"):
        with pytest.raises(UserError, match="crop-scale"):
            resolve({"data": "d", "out": "o", "crop_scale": bad})


def test_bad_input_is_a_user_error_not_a_traceback(dataset, tmp_path):
    result = CliRunner().invoke(
        app, ["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r"), "--arch", "tiny"]
    )
    assert isinstance(result.exception, UserError) and "data folder not found" in str(result.exception)
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "r"), "--resume"])
    assert isinstance(result.exception, UserError) and "no config.yaml" in str(result.exception)
    result = CliRunner().invoke(app, ["train", "--data", str(dataset), "--out", str(tmp_path / "r"), "--arch", "nope"])
    assert isinstance(result.exception, UserError) and "unknown arch" in str(result.exception)


def test_launcher_environment_torchrun_then_slurm_then_single():
    from smileynet.distributed import launcher_env

    assert launcher_env(
        {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "SLURM_PROCID": "0", "SLURM_NTASKS": "2"}
    ) == (info := launcher_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}))
    assert (info.rank, info.world_size, info.local_rank, info.is_main) == (3, 8, 1, False)
    slurm = launcher_env({"SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "1"})
    assert (slurm.rank, slurm.world_size, slurm.local_rank) == (5, 6, 1)
    assert not launcher_env({}).distributed
    with pytest.raises(UserError):
        launcher_env({"RANK": "x", "WORLD_SIZE": "2"})


def test_learning_rate_schedule():
    config = TrainConfig(data="d", out="o", lr=1.0, steps=10, warmup_steps=2, schedule="cosine")
    rates = [trainer.learning_rate(config, s) for s in range(10)]
    assert rates[:2] == [0.5, 1.0] and rates[2] == 1.0
    assert all(a >= b for a, b in zip(rates[2:], rates[3:])) and rates[-1] < 0.05
    assert trainer.learning_rate(TrainConfig(data="d", out="o", lr=1e-4), 300_000) == 1e-4  # the paper: constant


def kill_after_row(monkeypatch, step: int) -> None:
    """Make the next run die (as if killed) right after writing the metrics row of `step`."""
    write = trainer.MetricsLog.write

    def write_then_die(self, row):
        write(self, row)
        if row["step"] == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer.MetricsLog, "write", write_then_die)


@pytest.mark.e2e
def test_shards_with_loader_workers_resume_exactly_and_evaluate(dataset, tmp_path, monkeypatch):
    """Three shards over two loader processes, killed mid-epoch, resumed across the epoch boundary."""
    import webdataset as wds

    shards = tmp_path / "shards"
    for split in ("train", "valid", "test"):
        (shards / split).mkdir(parents=True)
        rows = list(csv.DictReader(open(dataset / f"{split}.csv", encoding="utf-8")))
        for part in range(3):
            with wds.TarWriter(str(shards / split / f"{part:05d}.tar")) as sink:
                for i, row in enumerate(rows[part::3]):
                    sink.write(
                        {
                            "__key__": f"{part}{i:04d}",
                            "png": (dataset / row["url"]).read_bytes(),
                            "json": json.dumps({"labels": json.loads(row["labels"]), "url": row["url"]}).encode(),
                        }
                    )
    (shards / "categories.csv").write_bytes((dataset / "categories.csv").read_bytes())
    settings = dict(steps=9, workers=2, checkpoint_every=3)
    train(tiny(shards, tmp_path / "whole", **settings))
    kill_after_row(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(shards, tmp_path / "killed", **settings))
    monkeypatch.undo()
    final = train(tiny(shards, tmp_path / "killed", **settings), resume=True)
    expected, resumed = read_rows(tmp_path / "whole"), read_rows(tmp_path / "killed")
    assert [r["epoch"] for r in expected] == ["0"] * 6 + ["1"] * 3  # 48 images, batch 8: the resume crosses epochs
    assert [r["loss"] for r in resumed] == [r["loss"] for r in expected]
    result = evaluate(final, shards, "test", workers=0, device="cpu", quiet=True)
    assert result["n"] == 16 and result["mtop5"] == 1.0  # 4 emojis: every label is in the top 5


def test_evaluation_names_how_the_models_training_data_was_sampled(tmp_path):
    import json

    from smileynet.files import write_config
    from smileynet.train.evaluation import dataset_sampling, training_sampling

    dataset, shards, run = tmp_path / "dataset-raw", tmp_path / "shards-raw", tmp_path / "run-raw"
    for folder in (dataset, shards, run / "model"):
        folder.mkdir(parents=True)
    (dataset / "sample_report.json").write_text(json.dumps({"sampling": "raw", "images": 3}))
    write_config(shards / "download_config.yaml", {"source": str(dataset)})
    write_config(run / "config.yaml", {"data": str(shards)})
    assert dataset_sampling(dataset) == dataset_sampling(shards) == "raw"  # directly, or through download's source
    assert training_sampling(run / "model") == "raw"
    assert training_sampling(tmp_path / "elsewhere" / "model") is None
    (dataset / "sample_report.json").write_text("{not json")
    assert training_sampling(run / "model") is None


def test_training_batches_are_cropped_with_the_configured_scale(dataset, tmp_path, monkeypatch):
    from collections import Counter

    import smileynet.data.loader as loader_module
    from smileynet.distributed import DistInfo

    crops, real = [], loader_module.build_loader

    def spy(*args, **kwargs):
        crops.append(kwargs.get("transform"))
        return real(*args, **kwargs)

    monkeypatch.setattr(loader_module, "build_loader", spy)
    config = tiny(dataset, tmp_path / "run", crop_scale="0.2,0.9")
    images, _ = next(trainer.train_batches(config, 4, 8, DistInfo(), (0, 0), Counter()))[2:]
    assert images.shape[1:] == (3, 32, 32)
    assert [(c.size, c.scale) for c in crops] == [(32, (0.2, 0.9))]


def test_progress_lines_off_a_terminal_carry_the_eta_and_the_loss(dataset, tmp_path, monkeypatch, capsys):
    import re

    from smileynet import progress

    monkeypatch.setattr(progress, "LOG_EVERY_SECONDS", 0.0)  # a line after every step
    train(tiny(dataset, tmp_path / "run", steps=3, quiet=False))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train: ") and "/3 step" in line]
    assert len(lines) == 3, lines
    assert all(re.search(r"\d+\.\d step/s, ETA \d+:\d\d, loss \d+\.\d{4}\)$", line) for line in lines), lines
