import re
import subprocess
import sys

COMMANDS = [
    "listen",
    "collect",
    "sample",
    "download",
    "train",
    "evaluate",
    "predict",
    "embed",
    "export",
    "transfer",
    "report",
    "serve",
    "demo",
    "push",
    "card",
]


def run(*args):
    return subprocess.run([sys.executable, "-m", "smileynet", *args], capture_output=True, text=True, timeout=120)


def test_the_cli_has_exactly_the_commands_of_the_design():
    """A command that disappears (or appears unlisted) fails here, not in a user's script."""
    import typer.main

    from smileynet.cli import app

    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(COMMANDS)


def test_help_lists_every_command_of_the_design():
    out = run("--help")
    assert out.returncode == 0
    listed = set(re.findall(r"^\W*\s([a-z]+)\s{2,}", out.stdout, flags=re.MULTILINE))
    assert listed >= set(COMMANDS), set(COMMANDS) - listed


def test_every_command_has_help():
    for command in [*COMMANDS, "listen bluesky", "listen mastodon"]:
        out = run(*command.split(), "--help")
        assert out.returncode == 0, (command, out.stderr)
