"""Shared test fixtures: the real payloads in ../shared/fixtures and a headless Chromium page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = Path(os.environ.get("SMILEYNET_SHARED", REPO.parent / "shared")) / "fixtures"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """`../shared/fixtures` beside the repository: real third-party payloads that the repository
    does not ship. A plain clone has none, so their tests skip; under CI (`CI` set), where a copy
    is laid beside the clone, they are required."""
    if not SHARED_FIXTURES.is_dir():
        message = f"third-party fixtures not found at {SHARED_FIXTURES} (set SMILEYNET_SHARED to their folder)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_FIXTURES


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium_page():
    """A Playwright page in Debian's headless Chromium; `page.console_errors` collects errors.

    Playwright's own browser download is not reachable here, so the system Chromium is used."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/system-deps.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.console_errors = []
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture
def run_cli(capsys):
    """Run `smileynet ARGS...` in-process: returns (exit code, stdout, stderr)."""
    import sys
    from unittest import mock

    from smileynet.cli import main

    def run(*args) -> tuple[int, str, str]:
        with mock.patch.object(sys, "argv", ["smileynet", *map(str, args)]):
            try:
                main()
                code = 0
            except SystemExit as exit:
                code = exit.code or 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
