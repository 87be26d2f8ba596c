"""The dataset sections: what `collect` kept and dropped, and what `sample` made of it (label
distribution before/after temporal sampling, label co-occurrence, posts per window, splits).

Parquet is read column by column (polars lazily, pyarrow by batches) so a large posts file is
counted without being held in memory.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from smileynet.contracts import (
    DROP_REASONS,
    LABEL_CORRELATION_FIGURE,
    LABEL_DISTRIBUTION_FIGURE,
    SPLITS,
    STATS_DIR,
)
from smileynet.data.release import iter_release_rows, release_split_path
from smileynet.errors import UserError
from smileynet.files import read_config
from smileynet.report import plots
from smileynet.report.discover import read_json
from smileynet.report.page import details, emoji, esc, figure, note, png_uri, table
from smileynet.sample import stats
from smileynet.vocab import Vocabulary

DEFAULT_WINDOW_DAYS = 30
MAX_FILE_ROWS = 50


def _number(value: object) -> int | None:
    """A count, or None for anything else (text, flags, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)


def collect_counts(report: dict) -> tuple[dict[str, int], dict[str, int]]:
    """(totals, dropped per reason) of a collect report: counts at the top level or under
    "totals"; reasons under "dropped" or at the same level."""
    totals_field = report.get("totals")
    level: dict = totals_field if isinstance(totals_field, dict) else report
    totals = {k: n for k, v in level.items() if (n := _number(v)) is not None and k not in DROP_REASONS}
    dropped_field = level.get("dropped")
    if isinstance(dropped_field, dict):
        dropped = {k: n for k, v in dropped_field.items() if (n := _number(v)) is not None}
    else:
        dropped = {k: n for k in DROP_REASONS if (n := _number(level.get(k))) is not None}
        if (n := _number(dropped_field)) is not None:
            totals["dropped"] = n
    return totals, dropped


def _per_file(report: dict) -> list[tuple[str, dict]]:
    files = next((report[k] for k in ("files", "per_file", "inputs") if k in report), None)
    if isinstance(files, dict):
        return [(str(name), counts) for name, counts in files.items() if isinstance(counts, dict)]
    if isinstance(files, list):
        return [
            (str(f.get("path") or f.get("file") or f.get("name") or n), f)
            for n, f in enumerate(files)
            if isinstance(f, dict)
        ]
    return []


def collect_section(reports: list[tuple[Path, dict]]) -> str:
    parts = []
    for path, report in reports:
        totals, dropped = collect_counts(report)
        if "totals" in report:  # the report's other facts (vocabulary size, tasks...) beside the counts
            totals.update({k: n for k, v in report.items() if (n := _number(v)) is not None})
        parts.append(f"<h3>{esc(path)}</h3>")
        if totals:
            parts.append(
                table(["count", "records"], [(k.replace("_", " "), f"{v:,}") for k, v in totals.items()], numeric=[1])
            )
        if dropped:
            all_dropped = sum(dropped.values()) or 1
            rows: list[tuple[object, ...]] = [
                (reason.replace("_", " "), f"{n:,}", f"{100 * n / all_dropped:.1f}%")
                for reason, n in sorted(dropped.items(), key=lambda kv: -kv[1])
                if n
            ]
            parts.append("<h3>Dropped, by reason</h3>" + table(["reason", "records", "share"], rows, numeric=[1, 2]))
            unused = [reason.replace("_", " ") for reason, n in dropped.items() if not n]
            if unused:
                parts.append(note("No record dropped for: " + ", ".join(unused) + "."))
        listed = report.get("malformed")
        malformed = [m for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
        if malformed:
            malformed_rows = [
                (m.get("file", ""), m.get("member", ""), m.get("line", ""), m.get("error", ""))
                for m in malformed[:MAX_FILE_ROWS]
            ]
            parts.append(
                details(
                    f"Malformed records (first {len(malformed_rows)} of {len(malformed)} listed)",
                    table(["file", "archive member", "line", "error"], malformed_rows, numeric=[2]),
                )
            )
        files = _per_file(report)
        if files:
            file_rows = []
            for name, counts in files[:MAX_FILE_ROWS]:
                file_totals, file_dropped = collect_counts(counts)
                kept = file_totals.get("kept", "-")
                file_rows.append((name, file_totals.get("read", "-"), kept, sum(file_dropped.values())))
            more = f" (first {MAX_FILE_ROWS} of {len(files)})" if len(files) > MAX_FILE_ROWS else ""
            parts.append(
                details(
                    f"Per input file{more}", table(["file", "read", "kept", "dropped"], file_rows, numeric=[1, 2, 3])
                )
            )
        if not totals and not dropped:
            parts.append(note("This collect report holds no counts the report recognises."))
    return "".join(parts)


def _source(path: Path) -> str:
    """A polars scan source: the file, or every parquet part of a dataset folder."""
    return str(path / "**" / "*.parquet") if path.is_dir() else str(path)


def emoji_counts(path: Path) -> Counter:
    """Posts (or images) per emoji of a parquet file with an `emojis` list column."""
    import polars as pl

    counts = (
        pl.scan_parquet(_source(path))
        .select(pl.col("emojis").explode())
        .drop_nulls()
        .group_by("emojis")
        .len()
        .collect(engine="streaming")
    )
    return Counter(dict(zip(counts["emojis"].to_list(), counts["len"].to_list())))


def split_emoji_counts(manifest: Path) -> dict[str, Counter]:
    import polars as pl

    counts = (
        pl.scan_parquet(_source(manifest))
        .select("split", "emojis")
        .explode("emojis")
        .drop_nulls()
        .group_by("split", "emojis")
        .len()
        .collect(engine="streaming")
    )
    result: dict[str, Counter] = {}
    for split, key, n in counts.iter_rows():
        result.setdefault(split, Counter())[key] = n
    return dict(sorted(result.items(), key=lambda kv: _split_order(kv[0])))


def release_emoji_counts(folder: Path, vocab: Vocabulary) -> tuple[dict[str, Counter], list[str]]:
    """Images per emoji in each split CSV of a release-layout folder, read row by row through the
    one release reader, and why each split CSV it refuses was left out of the counts."""
    result = {}
    refused = []
    for split in SPLITS:
        path = release_split_path(folder, split)
        if not path.is_file():
            continue
        counts: Counter = Counter()
        try:
            for row in iter_release_rows(path, split, len(vocab)):
                counts.update(vocab.emojis[i] for i in row.labels)
        except UserError as err:
            refused.append(str(err))
            continue
        except OSError as err:
            refused.append(f"{path}: {err.strerror or err}")
            continue
        result[split] = counts
    return result, refused


def _split_order(split: str) -> tuple[int, str]:
    return (SPLITS.index(split) if split in SPLITS else len(SPLITS), split)


def posts_per_window(posts: Path, window_days: int) -> dict[int, int]:
    """Collected posts per `window_days` window counted from the first post."""
    import polars as pl

    frame = pl.scan_parquet(_source(posts)).select("created_at").drop_nulls()
    first = frame.select(pl.col("created_at").min()).collect().item()
    if first is None:
        return {}
    counts = (
        frame.select(((pl.col("created_at") - first).dt.total_days() // window_days).alias("window"))
        .group_by("window")
        .len()
        .collect()
    )
    return {int(w): int(n) for w, n in counts.iter_rows()}


def images_per_window(manifest: Path) -> dict[str, dict[int, int]]:
    import polars as pl

    counts = pl.scan_parquet(_source(manifest)).group_by("split", "window").len().collect()
    result: dict[str, dict[int, int]] = {}
    for split, window, n in counts.iter_rows():
        if window is not None:
            result.setdefault(split, {})[int(window)] = int(n)
    return dict(sorted(result.items(), key=lambda kv: _split_order(kv[0])))


def manifest_label_rows(manifest: Path, emojis: list[str], batch_rows: int = 65536) -> Iterator[list[int]]:
    """Each image's labels as indices into `emojis`, read batch by batch from the manifest's
    `emojis` column (emojis outside the list are left out)."""
    import pyarrow.dataset as ds

    index = {key: i for i, key in enumerate(emojis)}
    for batch in ds.dataset(str(manifest), format="parquet").to_batches(columns=["emojis"], batch_size=batch_rows):
        for row in batch.column(0).to_pylist():
            yield [index[k] for k in row or () if k in index]


def split_table(manifest: Path) -> str:
    import polars as pl

    frame = pl.scan_parquet(_source(manifest))
    columns = frame.collect_schema().names()
    aggregations = [pl.len().alias("images")]
    if "post_id" in columns:
        aggregations.append(pl.col("post_id").n_unique().alias("posts"))
    if "emojis" in columns:
        aggregations.append(pl.col("emojis").list.len().mean().alias("labels per image"))
    if "window" in columns:
        aggregations.append(pl.col("window").n_unique().alias("windows"))
    stats = frame.group_by("split").agg(aggregations).collect()
    rows = sorted(stats.iter_rows(), key=lambda r: _split_order(r[0]))
    cells = [[r[0], *(f"{v:.2f}" if isinstance(v, float) else f"{v:,}" for v in r[1:])] for r in rows]
    return table(stats.columns, cells, numeric=range(1, len(stats.columns)))


def sample_report_facts(path: Path) -> str:
    """The counts of sample's own `sample_report.json` (posts in and kept, images, windows)."""
    report = read_json(path)
    if not isinstance(report, dict):
        return ""
    facts = [(k.replace("_", " "), f"{n:,}") for k, v in report.items() if (n := _number(v)) is not None]
    return table(["sample", "count"], facts, numeric=[1]) if facts else ""


def _window_days(manifest: Path) -> int:
    config = manifest.parent / "config.yaml"
    if config.is_file():
        try:
            value = read_config(config).get("window_days")
        except Exception:  # an unreadable config only loses the window length
            value = None
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_WINDOW_DAYS


def vocabulary_grid(vocab: Vocabulary) -> str:
    cells = "".join(f"<span>{i}. {emoji(key, with_name=True)}</span>" for i, key in enumerate(vocab.emojis))
    return f'<div class="vocab">{cells}</div>'


def parquet_columns(path: Path) -> set[str] | None:
    """The column names of a parquet file or dataset folder, None when it cannot be read."""
    import polars as pl

    try:
        return set(pl.scan_parquet(_source(path)).collect_schema().names())
    except Exception:  # corrupt, empty or not parquet: reported on the page, not raised
        return None


def sample_section(
    posts: list[Path],
    manifests: list[Path],
    vocab: Vocabulary | None,
    stats_dirs: list[Path],
    releases: Sequence[Path] = (),
) -> str:
    """Label distribution before/after sampling, co-occurrence, posts per window, split sizes.
    Each part needs its own columns; files without them are left out of that part only."""
    parts = []
    columns = {path: parquet_columns(path) for path in [*posts, *manifests]}
    for path, names in columns.items():
        if names is None:
            parts.append(note(f"{path}: not a readable parquet file; left out."))

    def with_columns(paths: list[Path], *need: str) -> list[Path]:
        return [p for p in paths if set(need) <= (columns[p] or set())]

    before: Counter[str] = Counter()
    for path in with_columns(posts, "emojis"):
        before.update(emoji_counts(path))
    after: dict[str, Counter] = {}
    for path in with_columns(manifests, "split", "emojis"):
        for split, counts in split_emoji_counts(path).items():
            after.setdefault(split, Counter()).update(counts)
    for folder in releases:
        try:
            release_vocab = Vocabulary.from_categories_csv(folder / "categories.csv")
        except UserError as err:
            parts.append(note(f"{folder}: {err}; left out."))
            continue
        release_counts, refused = release_emoji_counts(folder, release_vocab)
        parts.extend(note(f"{reason}; left out.") for reason in refused)
        for split, counts in release_counts.items():
            after.setdefault(split, Counter()).update(counts)
    after_total = sum(after.values(), Counter())
    counted = before + after_total
    ranking = before or after_total
    keys = [k for k in (vocab.emojis if vocab is not None else counted) if counted.get(k)]
    keys.sort(key=lambda k: -ranking.get(k, 0))

    written = [path for d in stats_dirs if (path := d / LABEL_DISTRIBUTION_FIGURE).is_file()]
    if written:
        parts.append(
            "<h3>Label distribution (Fig. 2)</h3>"
            + "".join(
                figure(png_uri(path.read_bytes()), f"Posts per emoji collected and images per emoji sampled ({path}).")
                for path in written
            )
        )
    elif keys:  # a dataset without sample's figures (a release folder, posts alone): drawn by the same function
        png = stats.label_distribution_figure(
            keys,
            [before.get(k, 0) for k in keys] if before else None,
            {split: [c.get(k, 0) for k in keys] for split, c in after.items()} if after else None,
        )
        parts.append(
            "<h3>Label distribution (Fig. 2)</h3>"
            + figure(
                png_uri(png), "Posts per emoji in the collected data and images per emoji after temporal sampling."
            )
        )
    if keys:
        header = ["emoji", *(["collected posts"] if before else []), *after.keys()]
        emoji_rows = []
        for k in keys:
            row_counts = ([before.get(k, 0)] if before else []) + [c.get(k, 0) for c in after.values()]
            emoji_rows.append([emoji(k, with_name=True), *(f"{n:,}" for n in row_counts)])
        parts.append(details("Counts per emoji", table(header, emoji_rows, numeric=range(1, len(header)), raw=True)))

    window_days = _window_days(manifests[0]) if manifests else DEFAULT_WINDOW_DAYS
    per_window_before: dict[int, int] = Counter()
    for path in with_columns(posts, "created_at"):
        per_window_before.update(posts_per_window(path, window_days))
    per_window_after: dict[str, Counter] = {}
    for path in with_columns(manifests, "split", "window"):
        for split, window_counts in images_per_window(path).items():
            per_window_after.setdefault(split, Counter()).update(window_counts)
    if per_window_before or per_window_after:
        parts.append(
            "<h3>Posts per window</h3>"
            + figure(
                plots.windows(dict(per_window_before) or None, per_window_after or None, window_days),
                f"Posts per {window_days}-day window before sampling and images per window after it.",
            )
        )

    for path in with_columns(manifests, "split"):
        parts.append(f"<h3>Splits of {esc(path.parent.name)}</h3>" + split_table(path))
        parts.append(sample_report_facts(path.parent / "sample_report.json"))
        written_corr = path.parent / STATS_DIR / LABEL_CORRELATION_FIGURE
        present = [k for k in keys if after_total.get(k)]
        if written_corr.is_file():
            png = written_corr.read_bytes()
        elif len(present) >= 2 and "emojis" in (columns[path] or ()):
            corr = stats.label_correlation(manifest_label_rows(path, present), len(present))
            png = stats.label_correlation_figure(present, corr)
        else:
            continue
        parts.append(
            "<h3>Label correlations (Fig. 9)</h3>"
            + figure(
                png_uri(png),
                "Correlation of the emoji labels over the sampled images (red: together more often than chance).",
            )
        )
    embedded = {LABEL_DISTRIBUTION_FIGURE, LABEL_CORRELATION_FIGURE}
    for folder in stats_dirs:
        pngs = sorted(p for p in folder.glob("*.png") if p.name not in embedded)
        if pngs:
            figs = "".join(
                figure(png_uri(p.read_bytes()), f"{p.stem.replace('_', ' ')} (sample's stats/{p.name})") for p in pngs
            )
            parts.append(details(f"Other figures written by sample ({folder})", figs))
    if vocab is not None:
        parts.append(details(f"Vocabulary: {len(vocab)} emojis (categories.csv)", vocabulary_grid(vocab)))
    return "".join(parts)
