"""A real Airflow UI server with this provider installed (Airflow 3's api-server, Airflow 2's
webserver), and headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``make browser`` installs it), never one Playwright downloads.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness.airflow import AIRFLOW_2, ApiServer, Webserver

# The form of the installed Airflow's UI is the one tested: each UI has its own test module.
collect_ignore = ["test_connection_form.py" if AIRFLOW_2 else "test_connection_form_airflow2.py"]

REPO = Path(__file__).resolve().parents[2]
# Without the networking flags Chromium keeps trying to reach Google's hosts from a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    server = (Webserver if AIRFLOW_2 else ApiServer)(tmp_path_factory.mktemp("airflow-ui-home"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("Debian's chromium is not installed: run `make browser` (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    # Tall enough that the whole connection dialog fits in one screenshot.
    context = browser.new_context(viewport={"width": 1280, "height": 2300})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path
