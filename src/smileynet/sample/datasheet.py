"""The dataset card (`DATASHEET.md` beside the release CSVs): what a user of the dataset, or a
person in it, needs to know. Written by `sample` from its own figures and, where found beside
posts.parquet, collect's report and config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smileynet.cards import CITATION, collect_lines, read_json, read_yaml, sensitive_text, source_lines
from smileynet.files import atomic_write_text

DATASHEET = "DATASHEET.md"


def post_dates(created_at: Any) -> dict[str, str] | None:
    """First and last post date (a polars column of datetimes), or None where there are none."""
    if created_at is None or created_at.null_count() == len(created_at):
        return None
    return {"first": str(created_at.min())[:10], "last": str(created_at.max())[:10]}


def datasheet(report: dict, config: dict, posts: Path | None) -> str:
    """The datasheet's Markdown, from sample's report and config and collect's files beside `posts`."""
    collect, collect_config = None, {}
    if posts is not None:
        beside = posts if posts.is_dir() else posts.parent
        collect, collect_config = read_json(beside / "collect_report.json"), read_yaml(beside / "config.yaml")
    dates = report.get("dates") or {}
    splits = report.get("splits") or {}
    lines = [
        "# Datasheet",
        "",
        "Images posted on social media, each labelled with the emojis posted with it (multi-label), "
        "laid out as the official SmileyNet release: `train.csv`, `valid.csv`, `test.csv` (image URL and "
        "emoji labels) and `categories.csv`. The images themselves are not in this folder: "
        "`smileynet download` fetches them from their URLs, so an image its owner deleted is gone.",
        "",
        "## Sources and dates",
        "",
        *source_lines(collect_config),
        f"- post dates: {dates['first']} to {dates['last']}" if dates else "- post dates: not recorded",
        "",
        "## Filters",
        "",
        *collect_lines(collect),
        f"- sample ({report.get('sampling') or 'official release'}): {report.get('posts_kept', '?')} of "
        f"{report.get('posts_in', '?')} labelled posts kept, at most {config.get('cap', '?')} per emoji per "
        f"{config.get('window_days', '?')}-day window ({report.get('windows', '?')} windows)",
        f"- images: {report.get('images', '?')} ({', '.join(f'{k} {v}' for k, v in splits.items())}); "
        f"{report.get('categories', '?')} emoji categories",
        "",
        "## Sensitive content",
        "",
        sensitive_text(collect, collect_config),
        "",
        "## Removal requests",
        "",
        "Anyone in a post of this dataset may ask its publisher to remove it, giving the image URL or the "
        "post id (the `image_id` before its last `_`). The publisher removes the rows and rebuilds: a delete "
        "notice for the post added to the archives makes `smileynet collect` leave it out (the deletions "
        "above were honoured that way), then `smileynet sample` writes this folder again. Posts deleted on "
        "their platform are removed the same way at the next collect.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)


def write_datasheet(out: Path, report: dict, config: dict, posts: Path | None) -> Path:
    """Write `out/DATASHEET.md`; returns its path."""
    path = out / DATASHEET
    atomic_write_text(path, datasheet(report, config, posts))
    return path
