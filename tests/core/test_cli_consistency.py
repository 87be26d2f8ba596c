"""One CLI: the same flags mean the same thing in every command (one test per rule, over the commands)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import typer
from PIL import Image

from smileynet import __version__
from smileynet.cli import app
from smileynet.cli_common import MODEL_HELP, WORKERS
from smileynet.model import create_model, save


def leaf_commands(group, prefix: str = "") -> dict:
    """Every command by its full name (`listen bluesky`), groups opened."""
    found = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        found.update(leaf_commands(command, full + " ") if hasattr(command, "commands") else {full: command})
    return found


COMMANDS = leaf_commands(typer.main.get_command(app))
NAMES = sorted(COMMANDS)
EMOJIS = ["😀", "😂", "😍", "😭"]


def options(name: str) -> dict:
    return {opt: param for param in COMMANDS[name].params for opt in getattr(param, "opts", [])}


def having(flag: str) -> list[str]:
    return [name for name in NAMES if flag in options(name)]


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_quiet_and_verbose(name):
    assert {"--quiet", "--verbose"} <= set(options(name))


@pytest.mark.parametrize("name", having("--device"))
def test_device_defaults_to_auto(name):
    default = options(name)["--device"].default
    if name == "train":  # a flag not given falls back to --config FILE, then to TrainConfig's defaults
        from smileynet.train.config import TrainConfig

        default = TrainConfig.__dataclass_fields__["device"].default
    assert default == "auto"


@pytest.mark.parametrize("name", having("--backend"))
def test_backend_defaults_to_auto(name):
    assert options(name)["--backend"].default == "auto"


@pytest.mark.parametrize("name", having("--workers"))
def test_workers_means_the_same_everywhere(name):
    option = options(name)["--workers"]
    assert (option.default, option.help) == (None, WORKERS.help)


@pytest.mark.parametrize("name", [n for n in NAMES if any(p.name == "model" for p in COMMANDS[n].params)])
def test_every_model_argument_takes_a_model_dir_or_a_run_folder(name):
    (param,) = [p for p in COMMANDS[name].params if p.name == "model"]
    assert param.help.startswith(MODEL_HELP)


def test_the_rules_cover_the_commands_they_are_about():
    assert {"train", "evaluate", "predict", "embed", "transfer", "serve"} <= set(having("--device"))
    assert {"predict", "embed", "serve"} <= set(having("--backend"))


@pytest.mark.parametrize("name", [None, "listen", *NAMES])
def test_help_has_plain_placeholders(run_cli, name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run_cli(*(name.split() if name else []), "--help")
    assert code == 0
    assert not re.search(r"<[a-z][^>]*>|\{[a-z_]+\}", out), out


def test_version(run_cli):
    code, out, _ = run_cli("--version")
    assert (code, out.strip()) == (0, f"smileynet {__version__}")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run folder (RUN/model/) and four small pictures."""
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    save(create_model("tiny", len(EMOJIS), vocab=EMOJIS, image_size=32), root / "run" / "model")
    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    for n in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / "images" / f"{n}.png")
    return root


def release_dataset(root) -> None:
    """A release-layout folder whose test split points at local pictures."""
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "categories.csv").write_text(
        "category,unicode\n" + "".join(f"{n},{e}\n" for n, e in enumerate(EMOJIS)), encoding="utf-8"
    )
    rows = "".join(f'{root / "images" / f"{n}.png"},"[{n}]"\n' for n in range(4))
    for split in ("train", "valid", "test"):
        (root / "data" / f"{split}.csv").write_text("url,labels\n" + rows, encoding="utf-8")


@pytest.mark.parametrize("command", ["predict", "embed", "export", "evaluate"])
def test_a_run_folder_works_wherever_a_model_dir_does(run_cli, run_folder, command, tmp_path):
    run = run_folder / "run"
    images = run_folder / "images"
    args = {
        "predict": ["predict", run, images, "--json"],
        "embed": ["embed", run, images, "--out", tmp_path / "e.parquet"],
        "export": ["export", run, "--onnx", tmp_path / "m.onnx"],
        "evaluate": ["evaluate", run, "--data", run_folder / "data", "--workers", "0"],
    }[command]
    if command == "evaluate":
        release_dataset(run_folder)
    code, out, err = run_cli(*args, "--quiet")
    assert code == 0, err


def test_evaluate_prints_a_short_table_and_writes_the_full_json(run_cli, run_folder, tmp_path):
    release_dataset(run_folder)
    code, out, err = run_cli(
        "evaluate",
        run_folder / "run",
        "--data",
        run_folder / "data",
        "--workers",
        "0",
        "--out",
        tmp_path / "metrics.json",
        "--quiet",
    )
    assert code == 0, err
    assert len(out.strip().splitlines()) <= 8
    for word in ("mTop-1", "mTop-3", "mTop-5", "AUC", "random"):
        assert word in out
    full = json.loads((tmp_path / "metrics.json").read_text("utf-8"))
    assert {"mtop1", "mtop3", "mtop5", "auc", "map", "n", "random", "per_category"} <= set(full)
    assert f"{full['mtop1']:.3f}" in out
    code, out, _ = run_cli(
        "evaluate", run_folder / "run", "--data", run_folder / "data", "--workers", "0", "--json", "--quiet"
    )
    assert json.loads(out)["mtop1"] == full["mtop1"]


def test_predict_shows_progress_unless_quiet(run_cli, run_folder):
    code, _, err = run_cli("predict", run_folder / "run", run_folder / "images")
    assert code == 0 and re.search(r"predict: 4 images? in [\d.]+ s", err), err
    code, _, err = run_cli("predict", run_folder / "run", run_folder / "images", "--quiet")
    assert code == 0 and err == ""
