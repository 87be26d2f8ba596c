"""CLI commands of this stage (thin: parse flags, call one function of the stage). Numeric flags
are checked where they are parsed, by `cli_common.Command`."""

from pathlib import Path

import typer

from smileynet.cli_common import QUIET, VERBOSE, Command, Group, start

app = typer.Typer(cls=Group, help="Record live posts into hourly archives that `collect` reads.", no_args_is_help=True)

DURATION = typer.Option(None, "--duration", help="Stop after this many seconds.")
MAX_EVENTS = typer.Option(None, "--max-events", help="Stop after writing this many events.")


def summary(result: dict, out: Path, extra: str = "") -> None:
    """The run's closing line; a run that wrote nothing says why, even under --quiet."""
    typer.echo(
        f"wrote {result['events']} events to {out} ({result['posts_with_images']} posts with images, "
        f"{result['reconnects']} reconnects{extra})"
    )


def why_nothing(result: dict) -> None:
    if result["events"] == 0:
        last = result["last_errors"][-1] if result["last_errors"] else f"no new events in {result['seconds']:g} s"
        typer.echo(f"listen: nothing recorded ({last})", err=True)


@app.command(cls=Command)
def bluesky(
    out: Path = typer.Option(..., "--out", help="Output folder: YYYY/MM/DD/HH.jsonl.zst + resume state."),
    endpoint: list[str] = typer.Option(
        None, "--endpoint", help="Jetstream URL (repeatable, tried in turn); default: the public Jetstream instances."
    ),
    collections: str = typer.Option("app.bsky.feed.post", "--collections", help="Comma-separated wantedCollections."),
    duration: float = DURATION,
    max_events: int = MAX_EVENTS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Record the Bluesky Jetstream firehose; a rerun with the same --out resumes."""
    start("listen bluesky", quiet, verbose, extra="data")
    from smileynet.listen.bluesky import listen_bluesky

    result = listen_bluesky(
        out,
        endpoints=endpoint or None,
        collections=[c for c in collections.split(",") if c],
        duration=duration,
        max_events=max_events,
        quiet=quiet,
    )
    why_nothing(result)
    if not quiet:
        summary(result, out)


@app.command(cls=Command)
def mastodon(
    instance: str = typer.Option(..., "--instance", help="Instance base URL, e.g. https://mastodon.social."),
    out: Path = typer.Option(..., "--out", help="Output folder: YYYY/MM/DD/HH.jsonl.zst + resume state."),
    token_env: str = typer.Option(
        "MASTODON_TOKEN",
        "--token-env",
        help="Environment variable holding an access token (instances that show live feeds to accounts only).",
    ),
    poll_seconds: float = typer.Option(10.0, "--poll-seconds", help="Timeline polling interval when not streaming."),
    allow_private_network: bool = typer.Option(
        False,
        "--allow-private-network",
        help="Follow the instance to a streaming host on loopback or a private network (a local test instance).",
    ),
    duration: float = DURATION,
    max_events: int = MAX_EVENTS,
    quiet: bool = QUIET,
    verbose: bool = VERBOSE,
) -> None:
    """Record a Mastodon instance's public timeline (streaming, else polling); a rerun resumes."""
    start("listen mastodon", quiet, verbose, extra="data")
    from smileynet.listen.mastodon import listen_mastodon

    result = listen_mastodon(
        instance,
        out,
        token_env=token_env,
        poll_seconds=poll_seconds,
        duration=duration,
        max_events=max_events,
        quiet=quiet,
        allow_private_network=allow_private_network,
    )
    why_nothing(result)
    if not quiet:
        summary(result, out, f", {result['edits']} edits, mode {result['mode']}")
