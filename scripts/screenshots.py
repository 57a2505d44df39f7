"""Saves each page as a picture, 375 and 1280 pixels wide, into docs/screenshots/.

Runs the app under gunicorn on a free port with a fresh SQLite database, drives Debian's
Chromium with Playwright, and fills in made-up data. Run it with ``make screenshots``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from app.requests.fields import STEPS  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason  # noqa: E402
from tests.browser.staff_support import seed_staff_journey, sign_in, staff_side_exists  # noqa: E402
from tests.browser.support import continue_to_next, fill_step, send_from_check_answers  # noqa: E402
from tests.support.forms import caregiver_answers  # noqa: E402
from tests.support.live_server import LiveServer, start_live_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
WIDTHS = (375, 1280)


def shoot(page: Page, name: str, width: int) -> None:
    path = OUT / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"saved {path.relative_to(ROOT)}")


def public_pages(page: Page, width: int) -> None:
    page.goto("/")
    shoot(page, "information", width)
    page.goto("/request-appointment")
    shoot(page, "request-form", width)
    continue_to_next(page)
    shoot(page, "request-form-errors", width)
    answers = {
        **caregiver_answers(),
        "has_referral": "yes",
        "physician_name": "Dr. Alan O'Neil",
        "physician_phone": "727 555 0142",
    }
    for step in STEPS:
        fill_step(page, answers)
        shoot(page, f"request-step-{step.value}", width)
        continue_to_next(page)
    shoot(page, "request-check-answers", width)
    send_from_check_answers(page)
    shoot(page, "confirmation", width)
    page.goto("/request-appointment")
    shoot(page, "request-already-sent", width)
    page.goto("/no-such-page")
    shoot(page, "not-found", width)


def staff_pages(page: Page, server: LiveServer, width: int, credentials: tuple[str, str]) -> None:
    page.goto("/staff/login")
    shoot(page, "staff-sign-in", width)
    sign_in(page, *credentials)
    page.goto("/staff/queue")
    shoot(page, "staff-queue", width)
    with page.expect_navigation():
        page.locator("main table a").first.click()
    shoot(page, "staff-request", width)
    page.goto("/staff/my-work")
    shoot(page, "staff-my-work", width)
    page.goto("/staff/metrics")
    shoot(page, "staff-metrics", width)
    # The journeys made above (public_pages) are this page's figures.
    page.goto("/staff/journey")
    shoot(page, "staff-journey", width)
    page.goto("/staff/audit")
    shoot(page, "staff-audit", width)


def main() -> int:
    reason = chromium_missing_reason()
    if reason:
        print(reason.replace("browser tests skipped", "cannot take screenshots"))
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshots-") as workdir:
        server = start_live_server(Path(workdir))
        try:
            staff = staff_side_exists(server)
            credentials = seed_staff_journey(server) if staff else None
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                for width in WIDTHS:
                    context = browser.new_context(
                        base_url=server.url, viewport={"width": width, "height": 900}
                    )
                    page = context.new_page()
                    public_pages(page, width)
                    if credentials:
                        staff_pages(page, server, width, credentials)
                    context.close()
                browser.close()
            if not staff:
                print("the staff pages are not there yet: no staff screenshots")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
