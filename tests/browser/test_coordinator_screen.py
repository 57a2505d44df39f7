"""The coordinator's screen in a real browser (issue 31), with fifty requests waiting:
the queue shows the morning's work on the first screen, a request is worked without
scrolling, "Save and take the next", a search by name that stays out of the address and
that Back returns to without sending anything again, the keyboard shortcuts, and the idle
warning on a scrolled page; at 1280x800 and 375 px, axe-core on every state."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page
from sqlalchemy import create_engine, update

from app.models import AppointmentRequest
from tests.browser.staff_support import StaffAccount, add_requests, create_staff, sign_in
from tests.browser.support import (
    assert_accessible,
    docs_screenshot,
    docs_screenshot_path,
    horizontal_overflow,
    small_tap_targets,
)
from tests.support.staff import a_referral

pytestmark = pytest.mark.browser

NY = ZoneInfo("America/New_York")
SURNAMES = ["Abernathy", "Baptiste", "Castellanos", "Dubois", "Eriksen", "Fonseca", "Gallagher",
            "Hernandez", "Ibarra", "Jovanovic"]  # fmt: skip
FIRST = ["Ana", "Beatriz", "Carla", "Diane", "Elena", "Farah", "Gloria", "Hope", "Irene", "June"]


@pytest.fixture(scope="module")
def morning(live_server):
    """Fifty requests waiting, older than any other browser test's, and a coordinator for
    each width. Afterwards they are closed, so the other tests' "take the next" still
    finds their own oldest request."""
    people = []
    for i in range(50):
        person = {
            "first_name": FIRST[i % 10],
            "last_name": f"{SURNAMES[i // 5]}-{i:02d}",
            "days_ago": 900 - i,
            "best_time_to_call": ("morning", "afternoon", "any")[i % 3],
            "phone": f"+1813555{100 + i:04d}",
            "email": f"person{i:02d}@example.com",
        }
        if i % 4 == 0:
            person["referral"] = a_referral()
        if i % 7 == 3:
            person.update(language="spanish", interpreter_needed=True)
        people.append(person)
    references = add_requests(live_server, *people)
    accounts = {}
    for width in (1280, 375):
        accounts[width] = StaffAccount(email=f"screen{width}@example.org", name=f"Sam {width}")
        create_staff(live_server, accounts[width])
    yield accounts, references, people
    engine = create_engine(live_server.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(AppointmentRequest)
                .where(AppointmentRequest.reference.in_(references))
                .values(status="closed", closed_reason="other")
            )
    finally:
        engine.dispose()


def first_screen(page: Page, name: str, tmp_path) -> None:
    """What the person sees before scrolling, for the docs (with DOCS_SCREENSHOTS=1)."""
    page.screenshot(path=str(docs_screenshot_path(name, tmp_path)))


def bottom_of(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is on the page"
    return box["y"] + box["height"]


def rows_in_first_screen(page: Page) -> int:
    return page.evaluate(
        """() => [...document.querySelectorAll('table.queue tbody tr')]
            .filter(row => row.getBoundingClientRect().bottom <= window.innerHeight).length"""
    )


@pytest.mark.parametrize("width", [1280, 375])
def test_the_coordinators_morning_on_one_screen(new_page, morning, width, tmp_path):
    accounts, _references, people = morning
    mobile = width < 600
    page = new_page(
        viewport={"width": width, "height": 812 if mobile else 800},
        is_mobile=mobile,
        has_touch=mobile,
    )
    sign_in(page, accounts[width].email, accounts[width].password)

    # The queue: the morning's work first, the filters folded away.
    page.goto("/staff/queue")
    assert page.locator("table.queue tbody tr").count() == 50
    filters = page.locator("details.filters")
    assert not filters.evaluate("details => details.open")
    if not mobile:
        assert rows_in_first_screen(page) >= 10, "ten requests above the fold at 1280x800"
        waiting = page.locator("table.queue tbody tr").first.locator("td").nth(5)
        assert waiting.bounding_box()["height"] < 70, (
            "the waiting time is one line (and a due date)"
        )
    assert horizontal_overflow(page) <= 0
    assert not small_tap_targets(page)
    assert_accessible(page, f"queue with fifty requests, {width} px")
    first_screen(page, f"staff-queue-morning-{width}", tmp_path)

    # The filters open, and stay open on the next page load, as left.
    filters.locator("summary").click()
    page.reload()
    assert filters.evaluate("details => details.open")
    assert_accessible(page, f"queue with the filters open, {width} px")
    filters.locator("summary").click()
    page.reload()
    assert not filters.evaluate("details => details.open")

    # A search by name: the name is never in the address, and Back comes back to the
    # results without asking to send anything again.
    wanted = people[7]
    page.get_by_label("Reference or patient name").fill(wanted["last_name"])
    with page.expect_navigation():
        page.get_by_role("button", name="Search", exact=True).click()
    results_url = page.url
    assert "search=" in results_url and wanted["last_name"].lower() not in results_url.lower()
    assert page.locator("table.queue tbody tr").count() == 1
    assert_accessible(page, f"queue, searched by name, {width} px")
    with page.expect_navigation():
        page.locator("table.queue tbody tr a.reference-code").click()
    assert (
        f"Call {wanted['first_name']} {wanted['last_name']}"
        in page.locator(".call-card").inner_text()
    )
    response = page.go_back()
    assert response is not None and response.request.method == "GET"
    assert page.url == results_url
    assert page.locator("table.queue tbody tr").count() == 1
    assert page.get_by_label("Reference or patient name").input_value() == wanted["last_name"]

    # Take the next request: n on the keyboard, or the button.
    page.goto("/staff/queue")
    with page.expect_navigation():
        if mobile:
            page.get_by_role("button", name="Take the next request").click()
        else:
            page.keyboard.press("n")
    assert "/staff/requests/" in page.url
    first_reference = page.url.split("/staff/requests/")[1].split("?")[0]
    card = page.locator(".call-card")
    assert card.inner_text().startswith("Call ")
    assert "Eastern time" in card.inner_text()
    note = page.get_by_label("Note", exact=True)
    save = page.get_by_role("button", name="Save", exact=True)
    save_next = page.get_by_role("button", name="Save and take the next")
    first_screen(page, f"staff-request-first-screen-{width}", tmp_path)
    if mobile:
        # On a phone: who to call, then the actions, then the answers.
        tops = [
            page.locator(s).bounding_box()["y"] for s in (".call-card", ".actions", ".deciding")
        ]
        assert tops == sorted(tops), tops
    else:
        # At 1280x800 the call card, the deciding answers and the whole action panel are
        # on the first screen.
        for selector in (".call-card", ".actions", "#deciding-title"):
            assert bottom_of(page, selector) <= 800, f"{selector} is below the first screen"
        assert save.bounding_box()["y"] + save.bounding_box()["height"] <= 800
    assert horizontal_overflow(page) <= 0
    assert not small_tap_targets(page)
    assert_accessible(page, f"request just taken, {width} px")
    docs_screenshot(page, f"staff-request-page-{width}", tmp_path)

    if not mobile:
        # Shortcuts never fire while typing: an "s" in the note box is a letter.
        note.press("s")
        assert note.input_value() == "s" and first_reference in page.url
        note.fill("")
        # Esc leaves the note box for Save; there, "?" shows the list of shortcuts.
        note.press("Escape")
        assert page.evaluate("() => document.activeElement.textContent") == "Save"
        page.keyboard.press("?")
        shortcuts = page.locator("details.shortcuts")
        assert shortcuts.evaluate("details => details.open")
        assert_accessible(page, "the keyboard shortcuts")
        page.keyboard.press("Escape")
        assert not shortcuts.evaluate("details => details.open")

    if not mobile:
        # "Contacted" opens the callback's date and time: Save is still on the first screen.
        page.get_by_role("group", name="Status").get_by_label("Contacted").check()
        assert page.get_by_label("Call back on (optional)").is_visible()
        assert bottom_of(page, ".status-form .button-row") <= 800
        page.get_by_role("group", name="Status").get_by_label("Keep it in progress").check()

    # Save with nothing written: told so, on the field. (Back to this page later fetches
    # the request afresh rather than offering to send the form again: see below.)
    with page.expect_navigation():
        save.click()
    assert "Write a note, or choose a new status" in page.locator(".error-summary").inner_text()
    assert_accessible(page, f"request saved with nothing written, {width} px")

    # The call: a callback tomorrow at 10; saved, and the next request opened at once.
    tomorrow = (datetime.now(NY) + timedelta(days=1)).date()
    note.fill("Spoke with her; call back tomorrow at 10.")
    page.get_by_role("group", name="Status").get_by_label("Contacted").check()
    page.get_by_label("Call back on (optional)").fill(tomorrow.isoformat())
    page.get_by_label("At (optional)").fill("10:00")
    assert_accessible(page, f"a call being logged, {width} px")
    with page.expect_navigation():
        save_next.click()
    second_reference = page.url.split("/staff/requests/")[1].split("?")[0]
    assert second_reference != first_reference
    told = page.get_by_role("status").first.inner_text()
    assert "Saved: the request is now contacted." in told and "You have claimed" in told
    assert accounts[width].name in page.locator(".standing-now").inner_text()
    assert_accessible(page, f"saved and the next taken, {width} px")
    first_screen(page, f"staff-saved-and-next-{width}", tmp_path)

    # Back: the request just saved, as it is now (past the page with the mistake, which
    # took the request's own address); nothing is sent again.
    response = page.go_back()
    assert response is not None and response.request.method == "GET"
    assert first_reference in page.url
    assert "Contacted" in page.locator(".standing-now").inner_text()
    assert "call back" in page.locator(".history").inner_text()

    if not mobile:
        # The shortcuts can be turned off (a screen reader's or voice control's own keys):
        # then n is only a letter, and the button is still there.
        page.goto("/staff/queue")
        page.locator("details.shortcuts summary").click()
        page.get_by_label("Turn these single-key shortcuts off").check()
        page.reload()
        page.locator("h1").click()
        page.keyboard.press("n")
        page.wait_for_timeout(300)
        assert page.url.endswith("/staff/queue")


def test_the_idle_warning_on_a_scrolled_page(new_page, morning, tmp_path):
    accounts, references, _people = morning
    page = new_page(viewport={"width": 1280, "height": 800})
    page.clock.install()
    sign_in(page, accounts[1280].email, accounts[1280].password)
    page.goto(f"/staff/requests/{references[-1]}")
    note = page.get_by_label("Note", exact=True)
    note.click()
    note.press_sequentially("Left a message")
    page.evaluate("window.scrollTo(0, 200)")
    # Typing is activity: after a minute, the next key press tells the server.
    page.clock.run_for("01:01")
    with page.expect_response("**/staff/session") as kept:
        note.press_sequentially(" at 9")
    assert kept.value.status == 204
    warning = page.locator(".session-warning[role=alert]")
    page.clock.run_for("12:30")  # 13:31 since the page opened, 12:30 since the typing
    assert warning.count() == 0
    page.clock.run_for("01:00")
    assert warning.is_visible()
    # Opaque, at the bottom of the window, never over the note box; the focus stays put.
    assert page.evaluate(
        "() => getComputedStyle(document.querySelector('.session-warning')).backgroundColor"
    ) not in ("transparent", "rgba(0, 0, 0, 0)")
    assert page.evaluate("() => document.activeElement.id") == "status_note"
    note_box, warning_box = note.bounding_box(), warning.bounding_box()
    assert note_box["y"] + note_box["height"] <= warning_box["y"], "the warning covers the note"
    assert abs(warning_box["y"] + warning_box["height"] - 800) < 1
    assert_accessible(page, "the idle warning on a scrolled request page")
    first_screen(page, "staff-idle-warning-1280", tmp_path)
    # Typing again keeps the session, and the warning goes.
    with page.expect_response("**/staff/session"):
        note.press_sequentially(".")
    assert warning.count() == 0
    assert note.input_value() == "Left a message at 9."
