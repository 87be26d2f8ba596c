"""What the model card (`smileynet card`, `push`) and the datasheet (`sample`) both say: the
citation, and the collect stage's facts read from its files (sources, filters, deletions, the
sensitive-content policy). Missing or unreadable files make a fact unknown, never an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smileynet.errors import UserError
from smileynet.files import parse_json, read_bounded_text, read_config

MAX_REPORT_BYTES = 16 << 20
CITATION = """@inproceedings{alhalah2019smile,
  title     = {Smile, Be Happy :) Emoji Embedding for Visual Sentiment Analysis},
  author    = {Al-Halah, Ziad and Aitken, Andrew and Shi, Wenzhe and Caballero, Jose},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV) Workshops},
  year      = {2019}
}"""
FLAGGED = "Twitter's possibly_sensitive, a Mastodon sensitive flag or content warning, Bluesky's adult and graphic self-labels"


def read_json(path: Path) -> Any:
    """A JSON file of an upstream stage, or None where it is missing or unreadable (numbers past
    int64 come back as floats: `files.parse_json`)."""
    try:
        return parse_json(read_bounded_text(path, MAX_REPORT_BYTES, "a report"))
    except (OSError, UserError, ValueError):
        return None


def read_yaml(path: Path) -> dict:
    """A saved config.yaml as a dict (`files.read_config`), or {} where it is missing or unreadable."""
    try:
        return read_config(path)
    except (OSError, UserError):
        return {}


def source_lines(collect_config: dict) -> list[str]:
    """The archives collect read (names only: local paths say nothing to a reader)."""
    inputs = [Path(str(p)).name for p in collect_config.get("inputs") or []]
    if not inputs:
        return ["- sources: not recorded (no collect config.yaml found)"]
    shown = ", ".join(inputs[:10]) + (f" and {len(inputs) - 10} more" if len(inputs) > 10 else "")
    return [f"- sources ({collect_config.get('source', 'auto')} format): {shown}"]


def collect_lines(collect: Any) -> list[str]:
    """The collect filter's counts: posts read, kept, and dropped by reason (deletions included)."""
    if not isinstance(collect, dict):
        return ["- collect report: not found"]
    totals = collect.get("totals") or {}
    dropped = totals.get("dropped") or {}
    lines = [f"- collect: {totals.get('read', '?')} posts read, {totals.get('kept', '?')} kept"]
    lines += [f"  - dropped as {reason}: {n}" for reason, n in dropped.items()]
    if "deleted" in dropped:
        lines.append(
            f"- deletions honoured: {dropped['deleted']} posts whose delete notice is in the archives were left out"
        )
    return lines


def sensitive_text(collect: Any, collect_config: dict) -> str:
    """The sensitive-content policy, as this data was collected."""
    dropped = ((collect or {}).get("totals") or {}).get("dropped") or {} if isinstance(collect, dict) else {}
    policy = " Images were never looked at by a person: the labels are the emojis people posted with them."
    if collect_config.get("keep_sensitive"):
        return (
            f"Posts flagged sensitive ({FLAGGED}) were kept (`collect --keep-sensitive`): the data may "
            "hold sensitive images; the `sensitive` column of posts.parquet marks them." + policy
        )
    if "sensitive" in dropped:
        return (
            f"Posts flagged sensitive ({FLAGGED}) were dropped, as `smileynet collect` does by default: "
            f"{dropped['sensitive']} of them." + policy
        )
    return (
        "The collect report holds no count of posts flagged sensitive: they may not have been "
        "filtered, and the data may hold sensitive images." + policy
    )
