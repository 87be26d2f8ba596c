"""The listen commands as a user runs them: bad numbers refused in one line, a run that never
connects exits 1 saying why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")]),
}


def smileynet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "smileynet", "listen", *args], env=ENV, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bluesky", "--duration", "nan"], "--duration must be a number > 0, got 'nan'"),
        (["bluesky", "--duration", "-1"], "--duration must be a number > 0, got '-1'"),
        (["bluesky", "--max-events", "0"], "--max-events must be an integer > 0, got '0'"),
        (
            ["mastodon", "--instance", "http://127.0.0.1:9", "--poll-seconds", "0"],
            "--poll-seconds must be a number > 0, got '0'",
        ),
        (
            ["mastodon", "--instance", "http://127.0.0.1:9", "--poll-seconds", "inf"],
            "--poll-seconds must be a number > 0, got 'inf'",
        ),
    ],
)
def test_numbers_that_cannot_work_are_refused_in_one_line(tmp_path, args, message):
    run = smileynet(*args, "--out", str(tmp_path))
    assert run.returncode == 1
    assert run.stderr == f"smileynet: error: {message}\n"
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_a_run_that_never_connects_exits_1_and_says_why(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    with closed:
        url = f"ws://127.0.0.1:{closed.getsockname()[1]}/subscribe"
        run = smileynet("bluesky", "--out", str(tmp_path), "--endpoint", url, "--duration", "1.5", "--quiet")
    assert run.returncode == 1
    lines = run.stderr.splitlines()
    assert lines[0].startswith(f"listen: {url}: ConnectionRefusedError")  # printed as it happened
    assert lines[-1].startswith("smileynet: error: listen bluesky: never connected, nothing recorded (last error: ")
    assert "Traceback" not in run.stderr
