"""scripts/slurm/torchrun.sbatch: valid bash whose #SBATCH lines sbatch reads, and a body that trains
and embeds when run as SLURM would run it on one node (stand-ins for srun and scontrol)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_train import EMOJIS, make_dataset, read_rows

from smileynet.model import load

SBATCH = Path(__file__).resolve().parents[2] / "scripts" / "slurm" / "torchrun.sbatch"


def test_sbatch_file_is_valid_bash_and_its_directives_come_first():
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)
    lines = SBATCH.read_text().splitlines()
    directives = [i for i, line in enumerate(lines) if line.startswith("#SBATCH")]
    first_command = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    assert directives and max(directives) < first_command  # sbatch stops reading directives at the first command
    result = subprocess.run(["bash", str(SBATCH)], capture_output=True, text=True)
    assert result.returncode == 2 and "usage:" in result.stderr


def stand_ins(folder: Path, log: Path) -> Path:
    """`srun` that logs its arguments and runs the command once (one node, one task); `scontrol
    show hostnames` that names this machine."""
    folder.mkdir()
    (folder / "srun").write_text(f'#!/bin/bash\necho "$@" >> {log}\nwhile [[ $1 == -* ]]; do shift; done\nexec "$@"\n')
    (folder / "scontrol").write_text('#!/bin/bash\n[ "$1 $2" = "show hostnames" ] && echo 127.0.0.1\n')
    for tool in folder.iterdir():
        tool.chmod(0o755)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_body_trains_and_embeds_on_one_local_node(tmp_path):
    data, run, log = make_dataset(tmp_path / "data"), tmp_path / "run", tmp_path / "srun.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    port = free_port()
    env |= {
        "PATH": f"{stand_ins(tmp_path / 'bin', log)}:{env['PATH']}",
        "PYTHON": sys.executable,
        "SLURM_NNODES": "1",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NODELIST": "node[01]",
        "SLURM_GPUS_ON_NODE": "1",
        "MASTER_PORT": str(port),
    }
    train = [
        "train",
        "--data",
        str(data),
        "--out",
        str(run),
        "--arch",
        "tiny",
        "--image-size",
        "32",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--log-every",
        "1",
        "--checkpoint-every",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--no-tensorboard",
    ]
    result = subprocess.run(["bash", str(SBATCH), *train], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert load(run / "model").vocab == EMOJIS
    assert [int(r["step"]) for r in read_rows(run)] == [1, 2]
    embed = [
        "embed",
        str(run / "model"),
        str(data),
        "--split",
        "valid",
        "--out",
        str(tmp_path / "valid.parquet"),
        "--backend",
        "torch",
        "--device",
        "cpu",
        "--workers",
        "0",
        "--quiet",
    ]
    result = subprocess.run(["bash", str(SBATCH), *embed], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert pq.read_table(tmp_path / "valid.parquet").num_rows == 16
    launches = log.read_text().splitlines()
    assert len(launches) == 2 and all(
        line.startswith(
            f"--kill-on-bad-exit=1 {sys.executable} -m torch.distributed.run "
            "--nnodes=1 --nproc-per-node=1 --rdzv-id=4242 --rdzv-backend=c10d "
            f"--rdzv-endpoint=127.0.0.1:{port} -m smileynet"
        )
        for line in launches
    )
