"""The intake staff side in a real browser: a coordinator's working journey, the back
button after signing out, and axe-core on every staff page in its states."""

from __future__ import annotations

import pytest

from tests.browser.staff_support import (
    StaffAccount,
    add_requests,
    create_staff,
    first_sign_in,
    pass_second_factor,
    sign_in,
    staff_side_exists,
)
from tests.browser.support import (
    assert_accessible,
    controls_without_visible_focus,
    horizontal_overflow,
    small_tap_targets,
)

pytestmark = pytest.mark.browser

COORDINATOR = StaffAccount(email="casey.browser@example.org", name="Casey Browser")
ADMIN = StaffAccount(email="avery.browser@example.org", name="Avery Admin")


@pytest.fixture(scope="module")
def staff_server(live_server):
    if not staff_side_exists(live_server):
        pytest.fail("the staff pages (/staff/login) are not served", pytrace=False)
    create_staff(live_server, COORDINATOR)
    create_staff(live_server, ADMIN, role="admin")
    return live_server


@pytest.fixture(scope="module")
def oldest(staff_server) -> str:
    """Waiting far longer than anything the other browser tests send in."""
    references = add_requests(
        staff_server,
        {"first_name": "Odette", "last_name": "Oldest-Waiting", "days_ago": 40},
        {
            "first_name": "Nadia",
            "last_name": "Next-Oldest",
            "days_ago": 39,
            "interpreter_needed": True,
        },
    )
    return references[0]


def display(reference: str) -> str:
    return "-".join(reference[i : i + 4] for i in range(0, 12, 4))


def test_a_coordinator_works_the_oldest_request_then_signs_out(new_page, oldest):
    # The back-forward cache on, as in everyday Chrome: a page kept in memory would show
    # again after sign-out without asking the server, unless the page forbids storing.
    page = new_page(back_forward_cache=True)
    page.goto("/staff/queue")
    assert "/staff/login" in page.url, "the queue needs sign-in"

    # The first sign-in goes through the set-up link `flask staff create` printed: the
    # password, then the authenticator app; every page on the way is checked.
    first_sign_in(page, COORDINATOR.email, COORDINATOR.password, check=assert_accessible)
    assert page.get_by_role("heading", level=1).inner_text() == "Intake queue"
    assert COORDINATOR.name in page.locator("header").inner_text()

    first_row = page.locator("table tbody tr").first
    assert first_row.get_attribute("data-reference") == oldest
    assert "Oldest-Waiting, Odette" in first_row.inner_text()
    assert "Overdue" in first_row.inner_text()
    with page.expect_navigation():
        first_row.get_by_role("link", name=display(oldest)).click()

    assert display(oldest) in page.get_by_role("heading", level=1).inner_text()
    assert "Odette Oldest-Waiting" in page.locator("main").inner_text()
    assert_accessible(page, "a new request")

    with page.expect_navigation():
        page.get_by_role("button", name="Claim this request").click()
    assert page.get_by_role("status").inner_text() == "You have claimed this request."
    claimed = page.locator("dt", has_text="Claimed by").locator("xpath=following-sibling::dd")
    assert COORDINATOR.name in claimed.inner_text()

    call_note = "Called the patient at 10:05; she would like a Tuesday appointment."
    page.get_by_label("Note", exact=True).fill(call_note)
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Note added."
    assert call_note in page.locator(".history").inner_text()

    page.get_by_role("group", name="Status").get_by_label("Contacted").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert page.get_by_role("status").inner_text() == "Saved: the request is now contacted."
    status = page.locator("dt", has_text="Status").first.locator("xpath=following-sibling::dd")
    assert status.inner_text().startswith("Contacted")
    history = page.locator(".history").inner_text()
    assert "Claimed the request." in history
    assert "Changed the status from in progress to contacted." in history
    assert_accessible(page, "a request claimed, noted and contacted")

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert "/staff/login" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == "Staff sign-in"

    # Back through the history: every page the coordinator saw is asked for again (the
    # staff pages say no-store), and the server sends the sign-in page instead.
    for _ in range(3):
        # "commit": a page restored from memory fires no new load event.
        page.go_back(wait_until="commit")
        page.wait_for_function("() => document.readyState === 'complete'")
        text = page.content()
        assert "Oldest-Waiting" not in text, f"patient data shown after sign-out at {page.url}"
        assert "Odette" not in text
        assert "Tuesday appointment" not in text


def test_sign_in_page_empty_and_with_errors(new_page, staff_server):
    page = new_page()
    page.goto("/staff/login")
    assert_accessible(page, "staff sign-in")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.title().startswith("Error:")
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert_accessible(page, "staff sign-in, nothing entered")
    page.get_by_label("Email address").fill(COORDINATOR.email)
    page.get_by_label("Password").fill("not the password at all")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert (
        "The email address or password is not right" in page.locator(".error-summary").inner_text()
    )
    assert page.get_by_label("Password").input_value() == ""
    assert page.get_by_label("Email address").get_attribute("autocomplete") == "username"
    assert page.get_by_label("Password").get_attribute("autocomplete") == "current-password"
    assert_accessible(page, "staff sign-in, wrong password")


def test_queue_filled_empty_and_with_a_bad_filter(new_page, oldest):
    page = new_page()
    sign_in(page, COORDINATOR.email, COORDINATOR.password)
    page.goto("/staff/queue")
    assert page.locator("table tbody tr").count() >= 1
    assert_accessible(page, "queue with requests")
    stops, unchanged = controls_without_visible_focus(page)
    assert stops > 5 and not unchanged, unchanged

    page.get_by_label("Reference or patient name").fill("Nobody-By-This-Name")
    with page.expect_navigation():
        page.get_by_role("button", name="Search", exact=True).click()
    assert "No requests match." in page.locator("main").inner_text()
    assert_accessible(page, "queue, nothing matches")

    page.get_by_label("Reference or patient name").fill("x" * 300)
    with page.expect_navigation():
        page.get_by_role("button", name="Search", exact=True).click()
    assert page.title().startswith("Error:")
    assert "Search for at most" in page.locator(".error-summary").inner_text()
    assert_accessible(page, "queue with a search that is too long")


def test_request_page_with_form_errors(new_page, staff_server):
    second = add_requests(
        staff_server, {"first_name": "Ines", "last_name": "Status-Errors", "days_ago": 1}
    )[0]
    page = new_page()
    sign_in(page, COORDINATOR.email, COORDINATOR.password)
    page.goto(f"/staff/requests/{second}")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert page.title().startswith("Error:")
    assert "Write a note, or choose a new status" in page.locator(".error-summary").inner_text()
    assert_accessible(page, "request, the form sent empty")

    reasons = page.get_by_role("group", name="Reason for closing")
    assert not reasons.is_visible(), "the reasons for closing wait until Closed is chosen"
    page.get_by_role("group", name="Status").get_by_label("Closed").check()
    assert reasons.is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert "Choose why the request is being closed" in page.locator(".error-summary").inner_text()
    # The reasons appear with "Closed" chosen, and the choice is kept.
    assert page.get_by_role("group", name="Reason for closing").is_visible()
    assert page.get_by_role("group", name="Status").get_by_label("Closed").is_checked()
    assert_accessible(page, "request, closing without a reason")


def test_audit_trail_for_an_admin(new_page, oldest):
    page = new_page()
    sign_in(page, ADMIN.email, ADMIN.password)
    page.goto("/staff/audit")
    assert page.locator("table tbody tr").count() >= 1
    assert_accessible(page, "audit trail")
    page.get_by_label("Request reference").fill("not a reference")
    with page.expect_navigation():
        page.get_by_role("button", name="Show entries").click()
    assert page.locator(".error-summary").is_visible()
    assert_accessible(page, "audit trail with a bad reference")
    page.get_by_label("Request reference").fill("ZZZZ-ZZZZ-ZZZZ")
    with page.expect_navigation():
        page.get_by_role("button", name="Show entries").click()
    assert "No entries match." in page.locator("main").inner_text()
    assert_accessible(page, "audit trail, nothing matches")


def test_a_coordinator_cannot_open_the_audit_trail(new_page, staff_server):
    page = new_page()
    sign_in(page, COORDINATOR.email, COORDINATOR.password)
    response = page.goto("/staff/audit")
    assert response.status == 403
    assert_accessible(page, "403 page")


def test_staff_pages_fit_a_phone(new_page, oldest):
    page = new_page(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    sign_in(page, COORDINATOR.email, COORDINATOR.password)
    for path in ("/staff/queue", f"/staff/requests/{oldest}"):
        page.goto(path)
        # The queue table scrolls inside its own region; the page itself must not.
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways"
        small = small_tap_targets(page)
        assert not small, f"{path}: tap targets under 24x24 px: {small}"


def test_admin_pages_have_24_px_targets_on_a_phone(new_page, oldest):
    page = new_page(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    sign_in(page, ADMIN.email, ADMIN.password)
    for path in ("/staff/accounts", "/staff/accounts/new", "/staff/audit"):
        page.goto(path)
        small = small_tap_targets(page)
        assert not small, f"{path}: tap targets under 24x24 px: {small}"


def test_second_factor_code_page_and_account_pages_are_accessible(new_page, staff_server):
    page = new_page()
    sign_in(page, ADMIN.email, ADMIN.password)  # sets up the app if it is the first time
    page.get_by_role("button", name="Sign out").click()
    page.goto("/staff/login")
    page.get_by_label("Email address").fill(ADMIN.email)
    page.get_by_label("Password").fill(ADMIN.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page, ADMIN.email, check=assert_accessible)
    for path, label in (
        ("/staff/accounts", "staff accounts"),
        ("/staff/accounts/new", "add an account"),
        ("/staff/account/password", "change password"),
    ):
        page.goto(path)
        assert_accessible(page, label)


def test_every_staff_control_shows_where_focus_is(new_page, oldest):
    page = new_page()
    page.goto("/staff/login")
    stops, unchanged = controls_without_visible_focus(page)
    assert stops >= 3 and not unchanged, unchanged
    sign_in(page, ADMIN.email, ADMIN.password)
    for path in (f"/staff/requests/{oldest}", "/staff/audit"):
        page.goto(path)
        stops, unchanged = controls_without_visible_focus(page)
        assert stops > 5, path
        assert not unchanged, f"{path}: no visible focus on {unchanged}"
