"""CLI commands of this stage (thin: parse flags, call one function of the stage)."""

from pathlib import Path

import typer

from smileynet.cli_common import QUIET, SEED, VERBOSE, start


def sample(
    posts: Path = typer.Argument(None, help="posts.parquet (file or folder) written by collect."),
    out: Path = typer.Option(..., "--out", help="Output folder (manifest.parquet, release CSVs, stats/)."),
    window_days: int = typer.Option(30, "--window-days", help="Length of a sampling window in days."),
    cap: int = typer.Option(
        4000,
        "--cap",
        help="Posts drawn through each emoji per window, at most; a drawn post "
        "keeps all its emojis, so co-labels can take an emoji past it.",
    ),
    val_per_class: int = typer.Option(500, "--val-per-class", help="Validation images per category."),
    test_per_class: int = typer.Option(1000, "--test-per-class", help="Test images per category."),
    vocab: str = typer.Option(
        None, "--vocab", help="Emoji list file; default: categories.csv beside POSTS, else the 92."
    ),
    from_release: Path = typer.Option(None, "--from-release", help="Read an official release folder instead of POSTS."),
    sampling: str = typer.Option(
        "temporal",
        "--sampling",
        help="temporal (the paper's windows and cap) or raw (Table 1's Raw-Dist.: the same "
        "valid/test, a train split of the same size drawn uniformly from all posts).",
    ),
    seed: int = SEED,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Sample posts in 30-day windows (or raw) and split them -> manifest.parquet + train/valid/test.csv."""
    start("sample", quiet, verbose, extra="data")
    from smileynet.sample import sample as run

    report = run(
        posts,
        out,
        window_days=window_days,
        cap=cap,
        val_per_class=val_per_class,
        test_per_class=test_per_class,
        seed=seed,
        vocab=vocab,
        from_release=from_release,
        sampling=sampling,
    )
    if not quiet:
        splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
        typer.echo(f"{report['images']} images ({splits}) -> {out}")
