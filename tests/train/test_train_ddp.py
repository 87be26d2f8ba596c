"""DDP: `torchrun --nproc_per_node=2 -m smileynet train` with two CPU processes (gloo) on the tiny task:
training, exact resume after a kill, and validation shared between the processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_train import EMOJIS, make_dataset, read_rows

from smileynet.distributed import DistInfo, launcher_env
from smileynet.model import create_model, load
from smileynet.train import TrainConfig, trainer
from smileynet.train.checkpoint import load_state

# 48 train images, 4 per process and step: an epoch is 6 steps, so 9 steps cross into epoch 1
TRAIN = [
    "--arch",
    "tiny",
    "--image-size",
    "32",
    "--steps",
    "9",
    "--batch-size",
    "8",
    "--lr",
    "3e-3",
    "--workers",
    "0",
    "--log-every",
    "2",
    "--checkpoint-every",
    "3",
    "--device",
    "cpu",
    "--quiet",
    "--no-tensorboard",
]

# Runs `smileynet` as torchrun's entry point, dying hard (no cleanup, as under SIGKILL) on every process
# when step KILL_AT begins: after the checkpoint at step 3 and two more steps.
KILLED_ENTRY = """
import os, sys
from smileynet.cli import main
from smileynet.train import trainer

learning_rate = trainer.learning_rate

def die_at(config, step):
    if step == int(os.environ["KILL_AT"]):
        os._exit(137)
    return learning_rate(config, step)

trainer.learning_rate = die_at
main()
"""


def test_a_one_process_torchrun_joins_a_process_group_but_a_one_task_slurm_job_does_not():
    one = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}
    assert launcher_env({**one, "TORCHELASTIC_RUN_ID": "none"}).distributed  # DDP over one GPU, as over eight
    assert not launcher_env(one).distributed
    assert not launcher_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}).distributed  # plain `smileynet train` in sbatch
    assert launcher_env({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}).distributed


def torchrun(entry: list[str], args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        *entry,
        "train",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[Path, Path]:
    """One uninterrupted 2-process run, shared by the tests that read it."""
    root = tmp_path_factory.mktemp("ddp")
    data, run = make_dataset(root / "data"), root / "run"
    result = torchrun(["-m", "smileynet"], ["--data", str(data), "--out", str(run), *TRAIN])
    assert result.returncode == 0, result.stderr[-3000:]
    return data, run


@pytest.mark.e2e
def test_two_process_ddp_training_on_cpu(ddp_run):
    _, run = ddp_run
    assert load(run / "model").vocab == EMOJIS
    rows = read_rows(run)
    assert [int(r["step"]) for r in rows] == [2, 3, 4, 6, 8, 9]
    assert [r["epoch"] for r in rows] == ["0", "0", "0", "0", "1", "1"]
    assert rows[-1]["val_auc"] and all(r["loss"] for r in rows)
    state = load_state(run / "checkpoints")
    # each process reads its own half of the 48 images: 9 steps end at batch 3 of epoch 1 on both
    assert state["step"] == 9 and state["positions"] == [[1, 3], [1, 3]]


@pytest.mark.e2e
def test_resume_after_a_kill_under_torchrun_gives_the_uninterrupted_weights(ddp_run, tmp_path):
    data, whole = ddp_run
    run, entry = tmp_path / "killed", tmp_path / "killed_entry.py"
    entry.write_text(KILLED_ENTRY)
    args = ["--data", str(data), "--out", str(run), *TRAIN]
    killed = torchrun([str(entry)], args, env={"KILL_AT": "5"})
    assert killed.returncode != 0
    assert load_state(run / "checkpoints")["step"] == 3
    assert [int(r["step"]) for r in read_rows(run)] == [2, 3, 4]  # a row past the checkpoint, lost with the kill

    resumed = torchrun(["-m", "smileynet"], [*args, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected, got = read_rows(whole), read_rows(run)
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    assert [r["loss"] for r in got] == [r["loss"] for r in expected]
    assert [r["val_auc"] for r in got] == [r["val_auc"] for r in expected]
    a, b = load(whole / "model").state_dict(), load(run / "model").state_dict()
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key
    assert load_state(run / "checkpoints")["positions"] == load_state(whole / "checkpoints")["positions"]


def validation_config(data: Path) -> TrainConfig:
    return TrainConfig(data=str(data), out="unused", arch="tiny", image_size=32, workers=0, batch_size=8).check()


@pytest.mark.e2e
def test_validation_of_the_torchrun_run_equals_one_process_validating_alone(ddp_run):
    data, run = ddp_run
    final = read_rows(run)[-1]  # the only validation: model/ holds the weights it scored
    alone = trainer.validate(load(run / "model"), validation_config(data), torch.device("cpu"), None, 8, DistInfo())
    for key, value in alone.items():
        assert float(final[key]) == pytest.approx(value, rel=1e-5, abs=1e-6), key  # metrics.csv keeps 6 digits


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def validate_in_process_group(rank: int, world_size: int, port: int, data: str, out: str) -> None:
    """One of `world_size` gloo processes: validate the same weights (process 0's batch-norm statistics),
    record how many images it scored."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        scored, predict_scores = [], trainer.predict_scores

        def counting(*args, **kwargs):
            scores, targets = predict_scores(*args, **kwargs)
            scored.append(len(scores))
            return scores, targets

        trainer.predict_scores = counting
        torch.manual_seed(0)
        model = create_model("tiny", len(EMOJIS), vocab=EMOJIS, image_size=32)
        if rank:  # as after a DDP step: batch-norm statistics of this process's own last batch
            for name, buffer in model.named_buffers():
                if name.endswith("running_mean"):
                    buffer.add_(0.5)
        values = trainer.validate(
            model, validation_config(Path(data)), torch.device("cpu"), None, 4, DistInfo(rank, world_size)
        )
        Path(out, f"rank{rank}.json").write_text(json.dumps({"scored": scored, "values": values}))
    finally:
        dist.destroy_process_group()


@pytest.mark.e2e
def test_validation_is_shared_between_processes_and_scored_on_all_of_it(tmp_path):
    # 3 shards over 2 processes: uneven shares (9 and 5 images), so the metrics cannot be averaged
    data = shards_of(make_dataset(tmp_path / "data", sizes=(("valid", 14),)), tmp_path / "shards", "valid", parts=3)
    mp.spawn(validate_in_process_group, args=(2, free_port(), str(data), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert sum(sum(r["scored"]) for r in ranks) == 14 and all(0 < sum(r["scored"]) < 14 for r in ranks)
    assert ranks[1]["values"] == {}  # the numbers come back on process 0

    torch.manual_seed(0)
    model = create_model("tiny", len(EMOJIS), vocab=EMOJIS, image_size=32)
    alone = trainer.validate(model, validation_config(data), torch.device("cpu"), None, 8, DistInfo())
    assert set(alone) == set(ranks[0]["values"]) and "val_auc" in alone
    for key, value in alone.items():
        assert ranks[0]["values"][key] == pytest.approx(value, rel=1e-6, abs=1e-7), key


def shards_of(data: Path, shards: Path, split: str, parts: int) -> Path:
    """The `split` of a release-layout folder written as `parts` WebDataset shards."""
    import csv

    import webdataset as wds

    (shards / split).mkdir(parents=True)
    with open(data / f"{split}.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for part in range(parts):
        with wds.TarWriter(str(shards / split / f"{part:05d}.tar")) as sink:
            for i, row in enumerate(rows[part::parts]):
                sink.write(
                    {
                        "__key__": f"{part}{i:04d}",
                        "png": (data / row["url"]).read_bytes(),
                        "json": json.dumps({"labels": json.loads(row["labels"]), "url": row["url"]}).encode(),
                    }
                )
    (shards / "categories.csv").write_bytes((data / "categories.csv").read_bytes())
    return shards
