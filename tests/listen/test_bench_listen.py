"""benchmarks/bench_listen.py --smoke runs and prints its figures (the benchmark itself is not timed here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # ~20-30 s on a busy 2-core machine: a server process and three listener processes
def test_bench_listen_smoke():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_listen.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "bare receive loop (ceiling)" in result.stdout and "listen bluesky" in result.stdout
    assert "peak RSS 10 min / 1 min" in result.stdout
