"""Browser fixtures of the dashboard tests: Playwright driving Debian's Chromium (/usr/bin/chromium,
or CHROMIUM_PATH) against the gateway on a loopback socket. A missing browser fails the tests
(CI installs it: .ci/run), never skips them. A plugin of the suite (tests/conftest.py's
pytest_plugins): every test may ask for `browser`, `site` and `page`."""
import os

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import serving

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"No Chromium at {CHROMIUM}: install Debian's `chromium` package (.ci/run "
                    "does) or set CHROMIUM_PATH.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def site(app):
    """The app served on a loopback socket: its base URL."""
    with serving(app) as url:
        yield url


@pytest.fixture
def page(browser, site):
    """A fresh browser context on `site` (clipboard and downloads allowed), and its page."""
    context = browser.new_context(base_url=site, viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
