"""The admins' Journey page in a real browser (issue 30): the funnel's chart and tables at
1280 and 375 px, axe-core on each, a period chosen, and a period that cannot be."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.models import JourneyFunnelDay
from app.vocabulary import JourneyStage
from tests.browser.staff_support import StaffAccount, create_staff, sign_in
from tests.browser.support import assert_accessible, docs_screenshot, horizontal_overflow

pytestmark = pytest.mark.browser

WEEK = ("2026-11-16", "2026-11-22")


@pytest.fixture(scope="module")
def a_week_of_journeys(live_server):
    """120 began on phones (38 sent), 60 on computers (29 sent), a quarter in Spanish."""
    reached = {
        ("phone", "en"): [90, 80, 71, 52, 47, 44, 40, 28],
        ("phone", "es"): [30, 27, 24, 18, 16, 15, 13, 10],
        ("computer", "en"): [45, 44, 42, 38, 35, 33, 31, 22],
        ("computer", "es"): [15, 15, 14, 12, 11, 11, 10, 7],
    }
    engine = create_engine(live_server.database_url)
    try:
        with Session(engine) as db:
            for (device, language), numbers in reached.items():
                for stage, n in zip(JourneyStage, numbers, strict=True):
                    db.merge(
                        JourneyFunnelDay(
                            day=date(2026, 11, 18),
                            stage=stage,
                            device=device,
                            language=language,
                            drafts=n,
                        )
                    )
            db.commit()
    finally:
        engine.dispose()


@pytest.mark.parametrize("width", [1280, 375])
def test_the_journey_page_shows_where_people_stop(new_page, live_server, a_week_of_journeys, width):
    account = StaffAccount(email=f"journey{width}@example.org", name=f"Joan {width}")
    create_staff(live_server, account, role="admin")
    mobile = width < 600
    page = new_page(viewport={"width": width, "height": 900}, is_mobile=mobile, has_touch=mobile)
    sign_in(page, account.email, account.password)
    page.get_by_role("link", name="Journey").click()
    page.wait_for_url("**/staff/journey")
    page.get_by_label("From", exact=True).fill(WEEK[0])
    page.get_by_label("To", exact=True).fill(WEEK[1])
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert page.get_by_role("heading", name="Journey: how far people get").is_visible()
    summary = page.locator(".funnel-summary").inner_text()
    assert "Everyone: 180 began, 67 sent (37.2%)" in summary
    assert "most stopped on How to reach them" in summary
    # The chart is drawn (bars as wide as their shares) and hidden from screen readers,
    # which read the tables: each a named region that scrolls on a phone.
    bars = page.locator(".funnel-chart__rows rect")
    assert bars.count() == 2 * len(JourneyStage)
    assert bars.first.bounding_box()["width"] > bars.last.bounding_box()["width"] > 0
    reached = page.get_by_role("table", name="People who reached each stage")
    assert "67 (37.2%)" in reached.get_by_role("row", name="Sent the request").inner_text()
    stopped = page.get_by_role("table", name="People whose last page was each page")
    assert stopped.get_by_role("row").count() == 1 + 7
    assert horizontal_overflow(page) <= 0
    assert_accessible(page, f"journey page, {width} px")
    docs_screenshot(page, f"staff-journey-{width}")
    # Back, then reload: the same figures, nothing asked again.
    page.go_back()
    page.reload()
    assert page.get_by_role("heading", name="Journey: how far people get").is_visible()
    page.get_by_label("From", exact=True).fill("2026-12-01")
    page.get_by_label("To", exact=True).fill("2026-11-01")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert (
        "Choose an end date on or after the start date"
        in page.locator(".error-summary").inner_text()
    )
    assert_accessible(page, f"journey page with a bad period, {width} px")
