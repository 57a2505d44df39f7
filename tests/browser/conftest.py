"""Browser fixtures: one real gunicorn on a migrated SQLite file, one headless Debian
Chromium driven by Playwright, and a fresh browser context (cookies, storage) per test.

The browser tests run on SQLite only: what they prove is what a person sees in the
browser, which does not depend on the database behind the pages (the rest of the suite
covers both databases).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser.support import NO_JAVASCRIPT_PAGES, ConsoleWatch
from tests.support.live_server import LiveServer, start_live_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
_SKIP_NOTE = pytest.StashKey[str]()


def chromium_missing_reason() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"browser tests skipped: no Chromium at {CHROMIUM} "
            "(install it with `apt-get install chromium`, or set CHROMIUM_PATH)"
        )
    return None


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config, items):
    """Without Chromium (and outside CI) the browser tests are set aside, and the run says
    why in one line at the end rather than once per test."""
    reason = chromium_missing_reason()
    if reason is None or running_in_ci():
        return
    browser_tests = [item for item in items if item.get_closest_marker("browser")]
    if browser_tests:
        config.hook.pytest_deselected(items=browser_tests)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]
        config.stash[_SKIP_NOTE] = f"{len(browser_tests)} {reason}"


def pytest_terminal_summary(terminalreporter, config):
    note = config.stash.get(_SKIP_NOTE, None)
    if note:
        terminalreporter.write_line(note, yellow=True, bold=True)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    reason = chromium_missing_reason()
    if reason:
        # CI must prove the pages in a browser: there a missing Chromium is a failure.
        if running_in_ci():
            pytest.fail(reason.replace("skipped", "cannot run in CI"), pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(chromium_path, tmp_path_factory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("live-server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_instance(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance, chromium_path):
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def browser_with_back_forward_cache(playwright_instance, chromium_path):
    """Chromium as people have it, keeping recent pages in memory for the back button
    (Playwright turns that cache off by default)."""
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path,
        headless=True,
        args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser, live_server, request):
    """Opens pages in fresh contexts: ``new_page(javascript=False, viewport=...)``.

    ``site_script=False`` blocks the site's own script but leaves the browser's
    JavaScript on: the page looks as it does without JavaScript, and axe-core can run.
    ``back_forward_cache=True`` uses a Chromium that keeps pages for the back button.

    Every page fails its test on a JavaScript error, a Content-Security-Policy violation
    or any other console error, or when the server logged a traceback.
    """
    contexts = []
    watches: list[ConsoleWatch] = []
    log_size = live_server.log_path.stat().st_size

    def open_page(
        *,
        javascript: bool = True,
        site_script: bool = True,
        back_forward_cache: bool = False,
        **context_options,
    ):
        context_options.setdefault("viewport", {"width": 1280, "height": 900})
        chosen = (
            request.getfixturevalue("browser_with_back_forward_cache")
            if back_forward_cache
            else browser
        )
        context = chosen.new_context(
            base_url=live_server.url, java_script_enabled=javascript, **context_options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        watches.append(ConsoleWatch(page))
        if not javascript:
            NO_JAVASCRIPT_PAGES.add(page)
        if not site_script:
            page.route("**/static/js/*.js", lambda route: route.abort())
        return page

    yield open_page

    for context in contexts:
        context.close()
    new_log = live_server.log_path.read_bytes()[log_size:].decode(errors="replace")
    assert "Traceback" not in new_log, f"the server failed:\n{new_log}"
    problems = [problem for watch in watches for problem in watch.problems]
    assert not problems, "the browser reported:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    return new_page()
