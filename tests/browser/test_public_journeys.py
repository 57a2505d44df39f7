"""People asking for an appointment, in a real browser: by keyboard alone, on a phone,
making mistakes, and with JavaScript turned off."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.browser.support import (
    REFERENCE_PATTERN,
    assert_accessible,
    fill_request_form,
    horizontal_overflow,
    small_tap_targets,
    tab_to,
)
from tests.support.forms import valid_answers

pytestmark = pytest.mark.browser

FORM = "/request-appointment"
JS_ON_AND_OFF = pytest.mark.parametrize(
    "javascript", [True, False], ids=["javascript", "no-javascript"]
)


def stored_request(live_server, last_name: str) -> dict:
    engine = create_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT r.reference, r.submitted_by_patient, r.submitter_name, r.sex,"
                    " r.state, r.best_time_to_call, r.insurance_type, r.interpreter_needed,"
                    " r.has_referral, f.physician_name, f.npi"
                    " FROM appointment_requests r LEFT JOIN referrals f ON f.request_id = r.id"
                    " WHERE r.last_name = :last_name"
                ),
                {"last_name": last_name},
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


def press_space_on(page, selector: str) -> None:
    tab_to(page, selector)
    page.keyboard.press("Space")


def type_into(page, selector: str, value: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(value)


@JS_ON_AND_OFF
def test_a_patient_with_a_referral_by_keyboard_alone(new_page, live_server, javascript):
    page = new_page(javascript=javascript)
    page.goto("/")

    # From the information page to the form, by the skip link and the button.
    page.keyboard.press("Tab")
    assert page.locator(":focus").inner_text() == "Skip to main content"
    tab_to(page, "a.button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(FORM)

    referral = page.locator("#referral-details")
    # With JavaScript the referral questions wait for a "yes"; without it they are
    # always there.
    assert referral.is_visible() is (not javascript)

    press_space_on(page, "#submitter-0")
    type_into(page, "#first_name", "Maria")
    last_name = "Keyboard-Referral-" + ("Script" if javascript else "Plain")
    type_into(page, "#last_name", last_name)
    type_into(page, "#dob_month", "3")
    type_into(page, "#dob_day", "27")
    type_into(page, "#dob_year", "1965")
    tab_to(page, "#sex-0")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # arrows choose in a radio group: "Prefer not to say"
    type_into(page, "#email", "maria.keyboard@example.com")
    type_into(page, "#phone", "813 555 0123")
    press_space_on(page, "#contact_method-0")
    tab_to(page, "#best_time_to_call-0")
    page.keyboard.press("ArrowDown")  # afternoon
    type_into(page, "#state", "Florida")  # a closed list picks by typing
    type_into(page, "#zip_code", "33612")
    press_space_on(page, "#language-0")
    tab_to(page, "#interpreter_needed-0")
    page.keyboard.press("ArrowRight")  # no
    press_space_on(page, "#diagnosed_metastatic-0")
    press_space_on(page, "#metastasis_sites-0")
    press_space_on(page, "#metastasis_sites-2")
    press_space_on(page, "#in_treatment-0")
    tab_to(page, "#insurance_type-0")
    page.keyboard.press("ArrowDown")  # Medicare: no company name needed
    press_space_on(page, "#has_referral-0")

    assert referral.is_visible()
    type_into(page, "#physician_name", "Dr. Alan O'Neil")
    type_into(page, "#physician_phone", "727 555 0142")
    type_into(page, "#physician_npi", "1234567893")
    type_into(page, "#message", "Mornings are hard; afternoons are best.")
    press_space_on(page, "#consent")
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.get_by_role("heading", level=1).inner_text() == "Request received"
    reference = page.locator("[data-reference]").inner_text()
    assert REFERENCE_PATTERN.match(reference), reference
    assert "Keyboard" not in page.content(), "the confirmation shows no patient data"

    stored = stored_request(live_server, last_name)
    assert stored["reference"] == reference.replace("-", "")
    assert stored["sex"] == "prefer_not_to_say"
    assert stored["best_time_to_call"] == "afternoon"
    assert stored["state"] == "FL"
    assert stored["insurance_type"] == "medicare"
    assert not stored["interpreter_needed"]
    assert stored["has_referral"]
    assert stored["physician_name"] == "Dr. Alan O'Neil"
    assert stored["npi"] == "1234567893"


def assert_fits_a_phone(page, where: str) -> None:
    assert horizontal_overflow(page) <= 0, f"{where}: the page scrolls sideways"
    small = small_tap_targets(page)
    assert not small, f"{where}: tap targets under 24x24 px: {small}"


def test_a_caregiver_without_a_referral_on_a_phone(new_page, live_server):
    page = new_page(
        viewport={"width": 375, "height": 812},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto("/")
    assert_fits_a_phone(page, "information page")
    page.get_by_role("link", name="Ask for an appointment online").first.tap()
    page.wait_for_url(f"**{FORM}")
    assert_fits_a_phone(page, "empty form")

    page.get_by_label("I am filling this in for the patient").tap()
    details = page.locator("#submitter-details")
    assert details.is_visible()
    assert not page.locator("#referral-details").is_visible()
    answers = valid_answers(
        submitter_name="Ana Santos",
        submitter_relationship="daughter",
        submitter_phone="813 555 0177",
        call_first="caregiver",
        last_name="Phone-Caregiver",
        insurance_type="none",
        insurance_carrier=None,
    )
    for name in ("submitter", "has_referral", "consent"):
        answers.pop(name)
    fill_request_form(page, answers)
    page.get_by_role("group", name="Has a physician referred the patient to us?").get_by_label(
        "No", exact=True
    ).tap()
    page.get_by_label("I agree to be contacted").tap()
    assert_fits_a_phone(page, "filled form")
    assert_accessible(page, "filled form on a phone")

    page.get_by_role("button", name="Send the request").tap()
    page.wait_for_url("**/request-appointment/received/*")
    assert page.get_by_role("heading", level=1).inner_text() == "Request received"
    assert REFERENCE_PATTERN.match(page.locator("[data-reference]").inner_text())
    assert_fits_a_phone(page, "confirmation")

    stored = stored_request(live_server, "Phone-Caregiver")
    assert not stored["submitted_by_patient"]
    assert stored["submitter_name"] == "Ana Santos"
    assert not stored["has_referral"]
    assert stored["physician_name"] is None


def test_a_form_with_errors_fits_a_phone(new_page):
    page = new_page(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    page.goto(FORM)
    with page.expect_navigation():
        page.get_by_role("button", name="Send the request").tap()
    assert page.title().startswith("Error:")
    assert_fits_a_phone(page, "form with errors")


def summary_links(page) -> list[tuple[str, str]]:
    links = page.eval_on_selector_all(
        ".error-summary a", "links => links.map(a => [a.getAttribute('href'), a.innerText])"
    )
    return [tuple(link) for link in links]


@JS_ON_AND_OFF
def test_mistakes_are_explained_and_nothing_typed_is_lost(new_page, live_server, javascript):
    page = new_page(javascript=javascript)
    page.goto(FORM)
    with page.expect_navigation():
        page.get_by_role("button", name="Send the request").click()

    assert page.title().startswith("Error: ")
    summary = page.locator(".error-summary")
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert summary.get_by_role("heading").inner_text() == "There is a problem"
    links = summary_links(page)
    assert ("#first_name", "Enter the patient's first name") in links
    assert ("#dob_month", "Enter the patient's date of birth") in links
    assert ("#consent", "Confirm that we may contact you about this request") in links
    for href, message in links:
        page.locator(f".error-summary a[href='{href}']").click()
        assert page.evaluate("() => document.activeElement.id") == href[1:], message
        field = page.locator(href)
        assert field.is_visible()
        # The same message sits on the field itself.
        assert (
            message
            in field.locator("xpath=ancestor::div[contains(@class,'field')][1]").inner_text()
        )

    last_name = "Mistakes-" + ("Script" if javascript else "Plain")
    answers = valid_answers(
        last_name=last_name,
        email="maria.santos@example",
        phone="555 01",
        dob_month="2",
        dob_day="30",
        dob_year="1980",
        language="other",
        language_other="Tagalog",
    )
    fill_request_form(page, answers)
    with page.expect_navigation():
        page.get_by_role("button", name="Send the request").click()

    assert page.title().startswith("Error: ")
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    links = summary_links(page)
    assert [href for href, _ in links] == ["#dob_month", "#email", "#phone"], links
    messages = " ".join(message for _, message in links)
    assert "real date" in messages
    assert "email" in messages.lower()
    assert "phone number" in messages.lower()
    for href, message in links:
        page.locator(f".error-summary a[href='{href}']").click()
        assert page.evaluate("() => document.activeElement.id") == href[1:], message

    # Everything typed is still there, mistakes included, to be corrected.
    for name, value in answers.items():
        if name in (
            "submitter",
            "sex",
            "contact_method",
            "best_time_to_call",
            "language",
            "interpreter_needed",
            "diagnosed_metastatic",
            "in_treatment",
            "insurance_type",
            "has_referral",
        ):
            assert page.locator(f"[name='{name}'][value='{value}']").is_checked(), name
        elif name == "metastasis_sites":
            checked = page.eval_on_selector_all(
                "[name=metastasis_sites]:checked", "boxes => boxes.map(b => b.value)"
            )
            assert sorted(checked) == sorted(value)
        elif name == "consent":
            assert page.locator("#consent").is_checked()
        else:
            assert page.locator(f"[name='{name}']").input_value() == value, name
    if javascript:
        assert_accessible(page, "form with three mistakes")

    fill_request_form(
        page,
        {
            "email": "maria.santos@example.com",
            "phone": "813 555 0123",
            "dob_day": "28",
        },
    )
    with page.expect_navigation():
        page.get_by_role("button", name="Send the request").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Request received"
    assert not page.title().startswith("Error")
    assert stored_request(live_server, last_name)["state"] == "FL"


def test_public_pages_reflow_at_320_pixels(new_page):
    """WCAG 1.4.10: content reflows at 320 CSS pixels (a 1280-pixel screen at 400% zoom)."""
    page = new_page(viewport={"width": 320, "height": 640})
    for path in ("/", FORM):
        page.goto(path)
        assert horizontal_overflow(page) <= 0, f"{path} scrolls sideways at 320 px"
    with page.expect_navigation():
        page.get_by_role("button", name="Send the request").click()
    assert horizontal_overflow(page) <= 0, "the form with errors scrolls sideways at 320 px"
