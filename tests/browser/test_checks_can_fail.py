"""The checks themselves: each must fail on a page that breaks its rule, or passing
them would prove nothing."""

from __future__ import annotations

import pytest

from tests.browser.support import (
    ConsoleWatch,
    axe_violations,
    choices_without_a_legend,
    controls_without_visible_focus,
    format_violations,
    horizontal_overflow,
    small_tap_targets,
)

pytestmark = pytest.mark.browser

BROKEN_PAGE = """<!doctype html><html><head><title>Broken</title>
<style>
  *:focus, *:focus-visible { outline: none; }
  .faint { color: #bbb; background: #fff; }
  .wide { width: 2000px; }
  .tiny { font-size: 8px; padding: 0; }
</style></head>
<body><main>
  <h1>Broken</h1>
  <h3>Skipped a level</h3>
  <p class="faint">Hard to read.</p>
  <input id="unlabelled" type="text">
  <p><a href="#x">standalone</a></p>
  <button class="tiny">b</button>
  <div class="wide">wide</div>
  <label><input type="radio" name="loose" value="a"> A</label>
  <label><input type="radio" name="loose" value="b"> B</label>
</main><p>Outside every landmark.</p></body></html>"""


@pytest.fixture
def broken_page(browser):
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.set_content(BROKEN_PAGE)
    yield page
    context.close()


def test_axe_reports_rule_element_and_fix(broken_page):
    violations = axe_violations(broken_page)
    rules = {violation["id"] for violation in violations}
    assert {"color-contrast", "label", "heading-order", "region"} <= rules
    report = format_violations(violations, "the broken page")
    assert "rule color-contrast" in report
    assert "element: #unlabelled" in report
    assert "how to fix: https://" in report
    assert "Fix any of the following" in report or "Fix all of the following" in report


def test_focus_tap_target_and_width_checks(broken_page):
    stops, unchanged = controls_without_visible_focus(broken_page)
    assert stops == 4 and len(unchanged) == 4
    small = small_tap_targets(broken_page)
    assert any(target.startswith("a#") for target in small)
    assert any(target.startswith("button#") for target in small)
    assert horizontal_overflow(broken_page) > 1000
    assert choices_without_a_legend(broken_page) == ["loose"]


def test_console_watch_reports_a_blocked_inline_script(browser):
    context = browser.new_context()
    page = context.new_page()
    watch = ConsoleWatch(page)
    page.route(
        "http://csp.invalid/",
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Security-Policy": "script-src 'self'; style-src 'self'"},
            content_type="text/html",
            body="<!doctype html><title>t</title><p style='color:red'>x</p><script>1</script>",
        ),
    )
    page.goto("http://csp.invalid/")
    context.close()
    assert any("Content Security Policy" in problem for problem in watch.problems), watch.problems
