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
]


def run(*args):
    return subprocess.run([sys.executable, "-m", "smileynet", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_every_command_of_the_design():
    out = run("--help")
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout


def test_every_command_has_help():
    for command in [*COMMANDS, "listen bluesky", "listen mastodon"]:
        out = run(*command.split(), "--help")
        assert out.returncode == 0, (command, out.stderr)
