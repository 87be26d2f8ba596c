"""Progress off a terminal: plain log lines with the rate, the time left and the caller's status."""

from __future__ import annotations

from smileynet import progress


def test_log_lines_carry_rate_eta_and_status(monkeypatch, capsys):
    monkeypatch.setattr(progress, "LOG_EVERY_SECONDS", 0.0)
    ticks = iter([0.0, 2.0, 4.0, 8.0])  # start, then after each item
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(ticks))
    seen = list(progress.progress(range(2), total=10, desc="embed", unit="img", status=lambda: "loss 0.5000"))
    assert seen == [0, 1]
    lines = capsys.readouterr().err.splitlines()
    # 1 image in 2 s: 0.5 img/s, 9 left: 18 s; 2 in 4 s: 8 left: 16 s
    assert lines[0] == "embed: 1/10 img (0.5 img/s, ETA 0:18, loss 0.5000)"
    assert lines[1] == "embed: 2/10 img (0.5 img/s, ETA 0:16, loss 0.5000)"
    assert lines[2] == "embed: 2 img in 8.0 s, loss 0.5000"


def test_without_a_total_there_is_no_eta_and_quiet_is_silent(capsys):
    assert progress.progress_line("collect", 30, None, "file", 3.0) == "collect: 30 file (10.0 file/s)"
    assert progress.clock(3725) == "1:02:05" and progress.clock(59.6) == "1:00"
    assert list(progress.progress(range(3), total=3, quiet=True)) == [0, 1, 2]
    assert capsys.readouterr().err == ""
