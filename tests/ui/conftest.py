"""A memgpt server with the scripted test model, and headless Chromium (Debian's package,
driven by Playwright) to use its web UI as a person would."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from memgpt.server.app import create_app
from memgpt.server.settings import ServerSettings
from tests.server.conftest import POLICY, Server
from tests.server.live import free_port, in_thread, org_key

CHROMIUM = os.environ.get("MEMGPT_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("MEMGPT_UI_SCREENSHOTS", Path(__file__).parent / "screenshots"))
# Flags that let Chromium run in a container with no GPU, sandbox or network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 820}
PHONE = {"width": 390, "height": 844}

# What the run measured, for the summary at the end.
report: dict[str, object] = {"screenshots": []}


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = []
    if sync_playwright is None:
        missing.append("the Python package playwright")
    if not shutil.which(CHROMIUM):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        # CI installs both, so there a missing browser is a failure, not a skip.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "The browser tests need " + " and ".join(missing) + "."
        )
    return sync_playwright


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("ui") / "memgpt.db"
    settings = ServerSettings(
        port=free_port(), database=db, allow_anonymous=True, model=POLICY, embedding="hash"
    )
    app = create_app(settings)
    key = org_key(app.state.accounts, "ui")
    with in_thread(app, settings.port) as url:
        yield Server(url, key, "", app)


@pytest.fixture
def fresh_key(ui_server, request) -> str:
    """An API key of a user alone in a new organization: each test starts with no agents."""
    accounts = ui_server.app.state.accounts
    org = accounts.create_organization(f"org {request.node.name}")
    return accounts.create_api_key(accounts.create_user(org.id, request.node.name).id)


@pytest.fixture(scope="session")
def browser():
    sync_playwright = _playwright()
    with sync_playwright() as p:
        # Playwright gives each launch a fresh profile (--user-data-dir) of its own.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def shoot():
    """Save a screenshot of `page` as <name>.png in the screenshots folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        report["screenshots"].append(path.name)

    return save


def pytest_terminal_summary(terminalreporter):
    if not report["screenshots"] and "load_ms" not in report:
        return
    terminalreporter.section("web UI")
    if "load_ms" in report:
        terminalreporter.write_line(f"page load against the local server: {report['load_ms']}")
    terminalreporter.write_line(f"screenshots in {SCREENSHOTS}:")
    for name in report["screenshots"]:
        terminalreporter.write_line(f"  {name}")
