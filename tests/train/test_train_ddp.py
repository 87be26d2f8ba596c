"""DDP: `torchrun --nproc_per_node=2 -m smileynet train` with two CPU processes (gloo) on the tiny task."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_train import EMOJIS, make_dataset, read_rows

from smileynet.model import load
from smileynet.train.checkpoint import load_state


@pytest.mark.slow
def test_two_process_ddp_training_on_cpu(tmp_path):
    data, run = make_dataset(tmp_path / "data"), tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "smileynet",
               "train", "--data", str(data), "--out", str(run), "--arch", "tiny", "--image-size", "32", "--steps", "6",
               "--batch-size", "8", "--lr", "3e-3", "--workers", "0", "--log-every", "2", "--checkpoint-every", "3",
               "--device", "cpu", "--quiet", "--no-tensorboard"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert load(run / "model").vocab == EMOJIS
    rows = read_rows(run)
    assert [int(r["step"]) for r in rows] == [2, 3, 4, 6]
    assert rows[-1]["val_auc"] and all(r["loss"] for r in rows)
    state = load_state(run / "checkpoints")
    # each process reads its own half of the 48 images, 4 per step: 6 steps end epoch 0 on both
    assert state["step"] == 6 and state["positions"] == [[0, 6], [0, 6]]
