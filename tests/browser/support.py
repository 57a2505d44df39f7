"""What the browser tests check on a page: axe-core's WCAG rules, keyboard focus, tap
target sizes, sideways scrolling, and the console."""

from __future__ import annotations

import json
import os
import re
import tempfile
import weakref
from functools import cache
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page

VENDOR = Path(__file__).resolve().parent / "vendor"
# WCAG 2.0 and 2.1, levels A and AA: what US health-care providers are held to.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Beyond the WCAG-tagged rules, axe-core's structure rules: the issue asks for headings in
# order, landmarks and a skip link on every page.
STRUCTURE_RULES = [
    "heading-order",
    "page-has-heading-one",
    "landmark-one-main",
    "landmark-no-duplicate-main",
    "landmark-unique",
    "region",
    "skip-link",
]
MIN_TARGET_PX = 24
# Pages opened with JavaScript off: axe-core cannot run in them (its promise never
# settles), so assert_accessible refuses them rather than hang. Their no-script state is
# checked with the site's script blocked instead (``new_page(site_script=False)``).
NO_JAVASCRIPT_PAGES: weakref.WeakSet = weakref.WeakSet()


class ConsoleWatch:
    """Collects JavaScript errors and console errors (CSP violations show up there)."""

    def __init__(self, page: Page):
        self.problems: list[str] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        # Chromium asks for /favicon.ico on its own; the site has none to offer.
        if "favicon.ico" in (message.location or {}).get("url", ""):
            return
        # Deliberate 4xx pages (404, 400) log "Failed to load resource"; the tests
        # that open them check the status themselves.
        if message.type == "error" and text.startswith("Failed to load resource"):
            return
        if message.type == "warning" and "Content Security Policy" not in text:
            return
        self.problems.append(f"console {message.type}: {text}")


DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def docs_screenshot_path(name: str, tmp_path: Path | None = None) -> Path:
    """Where a screenshot for the docs goes: ``docs/screenshots/<name>.png`` only when
    ``DOCS_SCREENSHOTS=1`` is set (``make screenshots`` sets it), so an ordinary test run
    leaves the checkout clean; otherwise the test's own folder (or the system's temporary
    one), so the page is still rendered and saved the same way."""
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        folder = DOCS_SCREENSHOTS
    else:
        folder = tmp_path or Path(tempfile.gettempdir()) / "test-screenshots"
        folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def docs_screenshot(page: Page, name: str, tmp_path: Path | None = None) -> Path:
    """A whole-page screenshot for the docs (see ``docs_screenshot_path``)."""
    path = docs_screenshot_path(name, tmp_path)
    page.screenshot(path=str(path), full_page=True)
    return path


@cache
def axe_source() -> str:
    return (VENDOR / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict]:
    if page in NO_JAVASCRIPT_PAGES:
        raise RuntimeError("axe-core needs JavaScript: use new_page(site_script=False)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, so a strict Content-Security-Policy
        # on the page does not stop it (a <script> tag would be refused).
        page.evaluate(axe_source())
    results = page.evaluate(
        """async ([tags, extraRules]) => {
            const results = await axe.run(document, {
                runOnly: {type: 'tag', values: tags},
                rules: Object.fromEntries(extraRules.map(id => [id, {enabled: true}])),
                resultTypes: ['violations'],
            });
            return results.violations;
        }""",
        [WCAG_TAGS, STRUCTURE_RULES],
    )
    return results


def format_violations(violations: list[dict], where: str) -> str:
    lines = [f"axe-core found {len(violations)} violation(s) on {where}:"]
    for violation in violations:
        lines.append(
            f"- rule {violation['id']} ({violation.get('impact')}): {violation['help']}"
            f"\n  how to fix: {violation['helpUrl']}"
        )
        for node in violation["nodes"][:10]:
            target = " ".join(str(t) for t in node["target"])
            lines.append(f"  element: {target}\n    {node['html'][:300]}")
            summary = node.get("failureSummary") or ""
            lines.extend("    " + line for line in summary.splitlines())
    return "\n".join(lines)


_UNGROUPED_CHOICES_JS = """() => {
    const names = new Set();
    for (const input of document.querySelectorAll('input[type=radio], input[type=checkbox]')) {
        const group = document.querySelectorAll(`input[name="${CSS.escape(input.name)}"]`);
        if (group.length < 2) continue;
        const fieldset = input.closest('fieldset');
        const legend = fieldset && fieldset.querySelector(':scope > legend');
        if (!legend || !legend.textContent.trim()) names.add(input.name);
    }
    return [...names];
}"""


def choices_without_a_legend(page: Page) -> list[str]:
    """Names of radio or check box groups that are not in a fieldset with a legend."""
    return page.evaluate(_UNGROUPED_CHOICES_JS)


def assert_accessible(page: Page, state: str) -> None:
    """Zero axe-core violations of the WCAG 2.0/2.1 A and AA rules, and of its heading,
    landmark and skip-link rules, on the page as it is; and every group of radios or
    check boxes in a fieldset with a legend."""
    violations = axe_violations(page)
    where = f"{page.url} ({state})"
    assert not violations, format_violations(violations, where)
    ungrouped = choices_without_a_legend(page)
    assert not ungrouped, f"choices without a fieldset and legend on {where}: {ungrouped}"


def active_element(page: Page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return {tag: 'body', id: '', text: ''};
            return {
                tag: el.tagName.toLowerCase(),
                id: el.id,
                name: el.getAttribute('name') || '',
                text: (el.innerText || el.value || '').trim().slice(0, 60),
            };
        }"""
    )


def tab_to(page: Page, selector: str, *, limit: int = 120, backwards: bool = False) -> int:
    """Press Tab (or Shift+Tab) until the element matching ``selector`` has focus.

    Returns the number of presses. Fails, listing where focus went, if it never gets there.
    """
    path = []
    key = "Shift+Tab" if backwards else "Tab"
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        if page.evaluate(
            "(sel) => !!document.activeElement && document.activeElement.matches(sel)", selector
        ):
            return presses
        focused = active_element(page)
        path.append(focused["id"] or f"{focused['tag']}:{focused['text']}")
    raise AssertionError(f"{selector} never got focus by {key}; focus went: {path}")


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scroll)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )


_SMALL_TARGETS_JS = """(minimum) => {
    const targets = document.querySelectorAll(
        'a[href], button, input:not([type=hidden]), select, textarea, summary, '
        + '[tabindex]:not([tabindex="-1"])');
    const small = [];
    for (const el of targets) {
        const box = el.getBoundingClientRect();
        const style = getComputedStyle(el);
        const hidden = box.width === 0 || box.height === 0 || style.visibility === 'hidden'
            || box.right <= 0 || box.bottom <= 0 && box.top < 0
            || el.closest('[aria-hidden=true]');
        if (hidden) continue;
        // WCAG 2.5.8 exempts a link inside a sentence: its size is set by the text.
        if (el.tagName === 'A') {
            const block = el.closest('p, li, dd, td, th, figcaption, label');
            if (block && block.textContent.trim() !== el.textContent.trim()) continue;
        }
        if (box.width < minimum || box.height < minimum) {
            const label = (el.innerText || el.value || el.name || '').trim().slice(0, 40);
            const size = `${Math.round(box.width)}x${Math.round(box.height)}`;
            small.push(`${el.tagName.toLowerCase()}#${el.id || ''} "${label}" ${size}`);
        }
    }
    return small;
}"""


def small_tap_targets(page: Page, minimum: int = MIN_TARGET_PX) -> list[str]:
    return page.evaluate(_SMALL_TARGETS_JS, minimum)


_FOCUS_STYLE_JS = """() => {
    const el = document.activeElement;
    const s = getComputedStyle(el);
    return JSON.stringify([s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow,
                           s.backgroundColor, s.color, s.borderColor, s.textDecorationLine]);
}"""

_MARK_JS = """(index) => { document.activeElement.setAttribute('data-focus-check', index); }"""

_BLURRED_STYLE_JS = """(index) => {
    const el = document.querySelector(`[data-focus-check="${index}"]`);
    const s = getComputedStyle(el);
    return JSON.stringify([s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow,
                           s.backgroundColor, s.color, s.borderColor, s.textDecorationLine]);
}"""


def controls_without_visible_focus(page: Page, *, limit: int = 200) -> tuple[int, list[str]]:
    """Tab through the whole page; return how many stops there were and which of them
    look the same focused as unfocused (WCAG 2.4.7)."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.evaluate("() => window.scrollTo(0, 0)")
    focused_styles: list[tuple[str, str]] = []
    seen_first = None
    for index in range(limit):
        page.keyboard.press("Tab")
        here = active_element(page)
        if here["tag"] == "body":
            break
        key = f"{here['tag']}#{here['id']}:{here['name']}:{here['text']}"
        if seen_first is None:
            seen_first = key
        elif key == seen_first:
            break
        page.evaluate(_MARK_JS, index)
        # Wait a frame so a CSS transition (if any) has applied.
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        focused_styles.append((key, page.evaluate(_FOCUS_STYLE_JS)))
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    unchanged = []
    for index, (key, focused) in enumerate(focused_styles):
        blurred = page.evaluate(_BLURRED_STYLE_JS, index)
        if focused == blurred:
            unchanged.append(key)
        else:
            outline = json.loads(focused)
            if outline[0] == "none" and outline[3] == json.loads(blurred)[3]:
                # Only colour changed: not enough to see where focus is.
                if outline[4] == json.loads(blurred)[4]:
                    unchanged.append(key + " (colour change only)")
    return len(focused_styles), unchanged


REFERENCE_PATTERN = re.compile(r"^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$")


def fill_request_form(page: Page, answers: dict) -> None:
    """Fill the request form with answers shaped like ``tests.support.forms.valid_answers``
    (field name -> value), by what each control is: radios are checked, boxes ticked,
    the state chosen from its list, text typed."""
    for name, value in answers.items():
        controls = page.locator(f"[name='{name}']")
        kind = controls.first.evaluate("el => el.type || el.tagName.toLowerCase()")
        if kind == "radio":
            page.locator(f"[name='{name}'][value='{value}']").check()
        elif kind == "checkbox":
            wanted = value if isinstance(value, list) else ([value] if value else [])
            for box in controls.all():
                box.set_checked(box.get_attribute("value") in wanted)
        elif kind.startswith("select"):
            controls.first.select_option(value)
        else:
            controls.first.fill(value)


# -- the journey in steps (issue 15) ---------------------------------------------------------

PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}  # fmt: skip
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def fill_step(page: Page, answers: dict) -> None:
    """Fill the questions of the step on screen with the answers that belong to it (the
    others are on other steps); a question hidden until an answer opens it is filled once
    shown, so the order of ``answers`` (the form's) matters."""
    for name, value in answers.items():
        controls = page.locator(f"form [name='{name}']")
        if controls.count() and any(c.is_visible() for c in controls.all()):
            fill_request_form(page, {name: value})


def continue_to_next(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()


def walk_to_check_answers(
    page: Page, answers: dict, start: str = "/request-appointment/who"
) -> None:
    """From the first step to "Check your answers", filling each step (again, if they
    were filled before)."""
    page.goto(start)
    for _ in range(10):
        if "Check your answers" in page.title():
            return
        fill_step(page, answers)
        continue_to_next(page)
        assert not page.title().startswith("Error"), page.locator(".error-summary").inner_text()
    raise AssertionError("never reached Check your answers")


def send_from_check_answers(page: Page) -> str:
    with page.expect_navigation():
        page.get_by_role("button", name="Send the request").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Request received"
    return page.locator("[data-reference]").inner_text()


_IN_VIEW_JS = """(id) => {
  const el = document.getElementById(id);
  const box = el.getBoundingClientRect();
  const choice = el.type === 'radio' || el.type === 'checkbox';
  const legend = el.closest('fieldset') && el.closest('fieldset').querySelector('legend');
  const label = (choice && legend) || document.querySelector(`label[for='${id}']`) || legend;
  const lbox = label ? label.getBoundingClientRect() : box;
  return {top: box.top, bottom: box.bottom, height: window.innerHeight,
          labelTop: lbox.top, labelBottom: lbox.bottom, focused: document.activeElement === el};
}"""


def field_in_view(page: Page, field_id: str) -> dict:
    """Where a field's box (and its label's) sits in the viewport, and whether it has focus."""
    return page.evaluate(_IN_VIEW_JS, field_id)
