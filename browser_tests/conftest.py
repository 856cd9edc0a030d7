"""Fixtures for the browser check of the built docs: a local web server and headless Chromium.

Nothing here imports torch or padmods: ``tox -e browser`` installs only pytest and selenium, and
checks the site that ``tox -e docs`` wrote to ``docs/_build/html``.

The browser is Debian's ``chromium`` with its ``chromium-driver`` (``/usr/bin/chromium`` and
``/usr/bin/chromedriver``; override them with the ``CHROMIUM_BINARY`` and ``CHROMEDRIVER``
environment variables). The driver is always given by path, so Selenium Manager never runs and
never downloads anything.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _site import DEFAULT_HTML_DIR, html_dir, pages_to_check

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,900",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--html-dir",
        default=str(DEFAULT_HTML_DIR),
        help="the built HTML site to check (default: docs/_build/html, written by tox -e docs)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "page" in metafunc.fixturenames:
        # Without a build this is just the landing page and the gallery index, whose tests then
        # fail with "run tox -e docs first" instead of the whole run being skipped as empty.
        metafunc.parametrize("page", pages_to_check(html_dir(metafunc.config)))


@pytest.fixture(scope="session")
def site(pytestconfig: pytest.Config) -> Path:
    """The built site; fails clearly when the docs have not been built."""
    path = html_dir(pytestconfig)
    if not (path / "index.html").is_file():
        pytest.fail(f"{path / 'index.html'} does not exist: run tox -e docs first", pytrace=False)
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """Serve the site on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="docs-server", daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _executable(variable: str, default: str, package: str) -> str:
    path = os.environ.get(variable) or default
    if not Path(path).is_file():
        pytest.fail(
            f"{path} does not exist: install the Debian package {package!r} "
            f"(apt-get install chromium chromium-driver) or point {variable} at it",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium with a fresh profile, its console log recorded at every level."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = _executable("CHROMIUM_BINARY", "/usr/bin/chromium", "chromium")
    driver_path = _executable("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
