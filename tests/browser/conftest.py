"""Browser fixtures: Debian's Chromium driven by Playwright against the live server process.

One browser for the session and a fresh context (cookies, viewport, language) per person in a
test. Playwright's own browser download is not used: Chromium is Debian's package, which
`make test` installs when missing. A missing browser, or one that cannot start, fails the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.oauth_support import REDIRECT_URI

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium keeps trying to reach the (closed) network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def ensure_chromium() -> None:
    """Debian's chromium, which `make test` installs (`make system-packages`); a browser test
    run without it fails, never skips."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-packages` (as root) or `make test`")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except Exception as exc:  # noqa: BLE001 - any launch failure fails the run, loudly
            pytest.fail(f"Chromium did not start: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _cheap_passwords(fast_passwords: None) -> None:
    """People sign in many times here; the password KDF's cost is not what these tests measure."""


def _client_callback(route: Any) -> None:
    """Stand in for the app at its redirect URI: the test reads the code from the URL."""
    route.fulfill(status=200, content_type="text/html", body="<h1>The app's callback</h1>")


@pytest.fixture
def new_context(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """new_context(viewport=DESKTOP, locale="en-US") -> a fresh browser context (one person)."""
    made: list[Any] = []

    def factory(viewport: dict[str, int] = DESKTOP, locale: str = "en-US") -> Any:
        context = browser.new_context(
            base_url=live_server.url, viewport=viewport, locale=locale, accept_downloads=True
        )
        context.set_default_timeout(15_000)
        context.route(REDIRECT_URI + "*", _client_callback)
        made.append(context)
        return context

    yield factory
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Any:
    return new_context().new_page()


@pytest.fixture
def shoot() -> Callable[[Any, str], None]:
    """shoot(page, name): a full-page screenshot in artifacts/screenshots/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take
