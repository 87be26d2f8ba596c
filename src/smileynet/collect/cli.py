"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from pathlib import Path

import typer

from smileynet.cli_common import QUIET, SEED, VERBOSE, WORKERS, start


def collect(
    inputs: list[Path] = typer.Argument(
        ..., help="Files, folders, .tar/.zip archives; .json/.jsonl plain or .bz2/.gz/.zst."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (posts.parquet, collect_report.json)."),
    source: str = typer.Option(
        "auto", "--source", help="auto|twitter-v1|twitter-v2|bluesky|mastodon (auto: per record)."
    ),
    vocab: str = typer.Option(
        None, "--vocab", help="Emoji list file, or top:N (the N most frequent). Default: the 92 smileys."
    ),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler ADDRESS; default: local processes."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an interrupted collect without redoing finished files."
    ),
    bluesky_cdn: str = typer.Option("https://cdn.bsky.app", "--bluesky-cdn", help="Base URL of the Bluesky image CDN."),
    max_line: int = typer.Option(
        8 << 20, "--max-line-bytes", help="Longer lines are skipped and counted as malformed."
    ),
    keep_sensitive: bool = typer.Option(
        False,
        "--keep-sensitive",
        help="Keep posts flagged sensitive (Twitter possibly_sensitive, Mastodon sensitive or a content "
        "warning, Bluesky adult or graphic self-labels); their `sensitive` column is set either way.",
    ),
    seed: int = SEED,
    workers: int = WORKERS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Read post archives and keep the posts the filter passes -> posts.parquet + collect_report.json."""
    start("collect", quiet, verbose, extra="data")
    from smileynet.collect.collector import collect as run

    report = run(
        list(inputs),
        out,
        source=source,
        vocab=vocab,
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        bluesky_cdn=bluesky_cdn,
        quiet=quiet,
        seed=seed,
        max_line=max_line,
        keep_sensitive=keep_sensitive,
    )
    if not quiet:
        totals = report["totals"]
        dropped = ", ".join(f"{k} {v}" for k, v in totals["dropped"].items() if v)
        typer.echo(
            f"read {totals['read']}, kept {totals['kept']} -> {out / 'posts.parquet'} (dropped: {dropped or 'none'})"
        )
