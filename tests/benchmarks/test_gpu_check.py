"""`benchmarks/gpu_check.sh --device cpu --tiny`: the GPU check's every step, at tiny sizes on CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_gpu_check_runs_every_check_on_cpu(tmp_path):
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [
            "bash",
            str(ROOT / "benchmarks" / "gpu_check.sh"),
            "--device",
            "cpu",
            "--tiny",
            "--keep",
            str(tmp_path / "work"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    table = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("| ") and not line.startswith(("| check", "| ---"))
    ]
    assert [line.split(" | ")[0].removeprefix("| ") for line in table] == [
        "train throughput (bench_train)",
        "torchrun, 1 process",
        "evaluate",
        "embed",
        "serve, one request",
    ]
    assert all(" | ok | " in line for line in table)
    assert "DDP (gloo)" in result.stdout and "HTTP 200" in result.stdout
    summary = (tmp_path / "work" / "run" / "train_summary.json").read_text()
    assert '"processes": 1' in summary and '"backend": "gloo"' in summary


def test_gpu_check_fails_without_a_gpu_when_asked_for_cuda(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cuda"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 1 and "no CUDA GPU" in result.stdout
