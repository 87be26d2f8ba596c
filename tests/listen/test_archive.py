"""The hourly archive after a kill: cut back to the last commit, and closed even if the next hour follows."""

from __future__ import annotations

from listen_servers import lines_on_disk

from smileynet.listen.archive import HourlyArchive, hour_path

HOUR_A, HOUR_B = hour_path(1_733_000_000), hour_path(1_733_000_000 + 3600)


def killed(archive: HourlyArchive) -> None:
    """What kill -9 leaves: whatever reached the file, nothing closed or renamed."""
    archive.writer.flush()
    archive.file.flush()


def test_a_kill_loses_only_what_was_not_committed(tmp_path):
    archive = HourlyArchive(tmp_path, "bluesky")
    archive.write(HOUR_A, b'{"n":1}')
    archive.write(HOUR_A, b'{"n":2}')
    archive.commit({"n": 2})
    archive.write(HOUR_A, b'{"n":3}')  # never committed
    killed(archive)
    again = HourlyArchive(tmp_path, "bluesky")
    assert again.cursor == {"n": 2}
    assert lines_on_disk(tmp_path) == ['{"n":1}', '{"n":2}']  # closed and readable before anything is written
    again.write(HOUR_A, b'{"n":3}')
    again.close({"n": 3})
    assert lines_on_disk(tmp_path) == ['{"n":1}', '{"n":2}', '{"n":3}']
    assert not list(tmp_path.rglob("*.partial"))


def test_a_restart_in_the_next_hour_closes_the_hour_left_open(tmp_path):
    archive = HourlyArchive(tmp_path, "mastodon")
    archive.write(HOUR_A, b'{"n":1}')
    archive.commit({"n": 1})
    killed(archive)
    again = HourlyArchive(tmp_path, "mastodon")
    again.write(HOUR_B, b'{"n":2}')
    again.close({"n": 2})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl.zst*")) == [HOUR_A, HOUR_B]
    assert lines_on_disk(tmp_path) == ['{"n":1}', '{"n":2}']


def test_files_opened_after_the_last_commit_are_dropped(tmp_path):
    archive = HourlyArchive(tmp_path, "bluesky")
    archive.write(HOUR_A, b'{"n":1}')
    archive.commit({"n": 1})
    archive.write(HOUR_B, b'{"n":2}')  # closes HOUR_A (committed above) and opens HOUR_B
    archive.write(HOUR_B, b'{"n":3}')
    killed(archive)
    again = HourlyArchive(tmp_path, "bluesky")
    assert lines_on_disk(tmp_path, partial=True) == ['{"n":1}']
    assert again.cursor == {"n": 1}
