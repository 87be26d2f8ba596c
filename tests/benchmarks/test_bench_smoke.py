"""Every benchmark script still runs: each `benchmarks/bench_*.py --smoke` (tiny sizes) must exit 0.

The figures of a smoke run mean nothing and are not checked; what is checked is that a change
elsewhere (a moved function, a renamed flag) has not broken a benchmark.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("bench_*.py"))


def test_every_benchmark_script_is_found():
    assert {"bench_train.py", "bench_embed.py", "bench_transfer.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.e2e
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_benchmark_runs_in_smoke_mode(script):
    src = str(BENCHMARKS.parent / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        cwd=BENCHMARKS.parent,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, f"{script.name} --smoke failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{script.name} --smoke printed nothing"
