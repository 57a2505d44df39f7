"""A coordinator's morning in a real browser (issue 16): take the next request, call,
record the contact with a callback, find it in My work, schedule, close; at 1280 and
375 px with axe-core on every state; and the time-out warning with "Stay signed in"."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.staff_support import StaffAccount, add_requests, create_staff, sign_in
from tests.browser.support import (
    assert_accessible,
    docs_screenshot,
    horizontal_overflow,
    small_tap_targets,
)

pytestmark = pytest.mark.browser

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def morning_staff(live_server):
    people = {}
    for width in (1280, 375):
        account = StaffAccount(email=f"morning{width}@example.org", name=f"Morgan {width}")
        create_staff(live_server, account)
        people[width] = account
    return people


@pytest.mark.parametrize("width", [1280, 375])
def test_a_coordinators_morning(new_page, live_server, morning_staff, width, tmp_path):
    # The oldest unclaimed requests of all, one for each run: take-next must give this one.
    reference = add_requests(
        live_server,
        {
            "first_name": "Teresa",
            "last_name": f"Morning-{width}",
            "days_ago": 400 if width == 1280 else 399,
            "language": "spanish",
            "interpreter_needed": True,
        },
    )[0]
    mobile = width < 600
    page = new_page(
        viewport={"width": width, "height": 900 if not mobile else 812},
        is_mobile=mobile,
        has_touch=mobile,
    )
    account = morning_staff[width]
    sign_in(page, account.email, account.password)
    page.goto("/staff/queue")
    with page.expect_navigation():
        page.get_by_role("button", name="Take the next request").click()
    assert f"/staff/requests/{reference}" in page.url
    card = page.locator(".call-card")
    assert f"Call Teresa Morning-{width}" in card.inner_text()
    assert (
        card.get_by_role("link", name="(813) 555-0123").get_attribute("href") == "tel:+18135550123"
    )
    assert "Spanish" in card.inner_text() and "Needed" in card.inner_text()
    assert horizontal_overflow(page) <= 0, "the request page scrolls sideways"
    assert not small_tap_targets(page)
    assert_accessible(page, f"request just taken, {width} px")
    docs_screenshot(page, f"staff-request-taken-{width}", tmp_path)

    # The call: she asks to be called back tomorrow afternoon.
    tomorrow = (datetime.now(NY) + timedelta(days=1)).date()
    page.get_by_label("Note", exact=True).fill("Spoke with her; call back tomorrow after 2.")
    page.get_by_role("group", name="Status").get_by_label("Contacted").check()
    assert page.get_by_label("Call back on (optional)").is_visible()
    page.get_by_label("Call back on (optional)").fill(tomorrow.isoformat())
    page.get_by_label("At (optional)").fill("14:30")
    assert_accessible(page, f"contacted with a callback, being filled in, {width} px")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert page.get_by_role("status").first.inner_text() == "Saved: the request is now contacted."
    assert "call back" in page.locator(".history").inner_text()
    assert "2:30 PM E" in page.locator(".history").inner_text()

    # My work lists it, with its callback.
    page.get_by_role("link", name="My work").click()
    page.wait_for_url("**/staff/my-work")
    item = page.locator(f'.work-item[data-reference="{reference}"]')
    assert "Call back" in item.inner_text() and "2:30 PM" in item.inner_text()
    assert horizontal_overflow(page) <= 0
    assert_accessible(page, f"my work, {width} px")
    docs_screenshot(page, f"staff-my-work-{width}", tmp_path)

    # The next day she is booked: scheduled, then closed after the visit.
    with page.expect_navigation():
        item.get_by_role("link", name=f"Morning-{width}, Teresa").click()
    page.get_by_role("group", name="Status").get_by_label("Scheduled").check()
    page.get_by_label("Appointment date").fill((tomorrow + timedelta(days=7)).isoformat())
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert "Saved: the request is now scheduled." in page.locator("main").inner_text()
    page.get_by_role("group", name="Status").get_by_label("Closed").check()
    page.get_by_role("group", name="Reason for closing").get_by_label("Other").check()
    page.get_by_label("Note", exact=True).fill("Seen in clinic.")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    status = page.locator("dt", has_text="Status").first.locator("xpath=following-sibling::dd")
    assert status.inner_text().startswith("Closed")
    assert_accessible(page, f"closed, {width} px")
    page.goto("/staff/my-work")
    assert page.locator(f'.work-item[data-reference="{reference}"]').count() == 0


def test_the_time_out_warning_offers_to_stay_signed_in(new_page, live_server, morning_staff):
    page = new_page()
    page.clock.install()
    sign_in(page, morning_staff[1280].email, morning_staff[1280].password)
    page.goto("/staff/my-work")
    note = page.locator("[data-session-timeout]")
    assert "signed out after 15 minutes without activity" in note.inner_text()
    warning = page.locator(".session-warning[role=alert]")
    assert warning.count() == 0
    page.clock.run_for("13:01")
    assert "You will be signed out in 2 minutes" in warning.inner_text()
    assert_accessible(page, "the time-out warning")
    with page.expect_response("**/staff/session") as answer:
        warning.get_by_role("button", name="Stay signed in").click()
    assert answer.value.status == 204
    assert warning.count() == 0
    # Fifteen minutes after the page opened, but not after "Stay signed in": no sign-out.
    page.clock.run_for("02:30")
    assert warning.count() == 0
    page.clock.run_for("13:00")
    assert "Your session has ended" in warning.inner_text()


def test_without_javascript_the_page_says_when_the_session_ends(new_page, morning_staff):
    page = new_page(site_script=False)
    sign_in(page, morning_staff[375].email, morning_staff[375].password)
    page.goto("/staff/queue")
    text = page.locator("[data-session-timeout]").inner_text()
    assert "unless you open or save a page before then" in text
    assert " AM E" in text or " PM E" in text


@pytest.mark.parametrize("width", [1280, 375])
def test_access_metrics_chart_and_table(new_page, live_server, width, tmp_path):
    account = StaffAccount(email=f"metrics{width}@example.org", name=f"Mel {width}")
    create_staff(live_server, account, role="admin")
    add_requests(live_server, {"first_name": "Ana", "last_name": "Metrics", "days_ago": 2})
    page = new_page(viewport={"width": width, "height": 900}, is_mobile=width < 600)
    sign_in(page, account.email, account.password)
    page.get_by_role("link", name="Access metrics").click()
    page.wait_for_url("**/staff/metrics")
    assert page.get_by_role("img", name="Requests received per day").is_visible()
    assert page.get_by_role("table", name="Received per day").count() == 1
    assert horizontal_overflow(page) <= 0
    assert_accessible(page, f"access metrics, {width} px")
    docs_screenshot(page, f"staff-metrics-{width}", tmp_path)
    page.get_by_label("From", exact=True).fill("2026-12-01")
    page.get_by_label("To", exact=True).fill("2026-11-01")
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert (
        "Choose an end date on or after the start date"
        in page.locator(".error-summary").inner_text()
    )
    assert_accessible(page, f"access metrics with a bad period, {width} px")


def test_the_working_day_pages_fit_320_px(new_page, live_server):
    account = StaffAccount(email="narrow320@example.org", name="Nora Narrow")
    create_staff(live_server, account, role="admin")
    reference = add_requests(
        live_server,
        {
            "first_name": "Maximiliana-Alexandrina",
            "last_name": "Wolfeschlegelsteinhausen-Bergerdorff",
            "days_ago": 3,
        },
    )[0]
    page = new_page(viewport={"width": 320, "height": 700}, is_mobile=True, has_touch=True)
    sign_in(page, account.email, account.password)
    for path in (f"/staff/requests/{reference}", "/staff/my-work", "/staff/metrics"):
        page.goto(path)
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at 320 px"
        assert not small_tap_targets(page), path
