"""axe-core's WCAG 2.0/2.1 A and AA rules, focus, landmarks and autocomplete on every
public page, in its empty, error and filled states."""

from __future__ import annotations

import pytest

from tests.browser.support import (
    assert_accessible,
    controls_without_visible_focus,
    fill_request_form,
)
from tests.support.forms import referral_answers, valid_answers

pytestmark = pytest.mark.browser

FORM = "/request-appointment"


def caregiver_answers(**overrides) -> dict:
    caregiver = {
        "submitter": "someone_else",
        "submitter_name": "Ana Santos",
        "submitter_relationship": "daughter",
        "submitter_phone": "813 555 0177",
        "call_first": "patient",
    }
    return valid_answers(**{**caregiver, **overrides})


def test_information_page(page):
    response = page.goto("/")
    assert response.status == 200
    assert_accessible(page, "information page")


def test_request_form_empty(page):
    page.goto(FORM)
    assert_accessible(page, "empty form")


def test_request_form_with_every_question_open_and_filled(page):
    page.goto(FORM)
    fill_request_form(
        page,
        referral_answers(
            submitter="someone_else",
            submitter_name="Ana Santos",
            submitter_relationship="daughter",
            submitter_phone="813 555 0177",
            call_first="caregiver",
            language="other",
            language_other="Portuguese",
            message="Please call after 10 a.m.",
        ),
    )
    assert page.locator("#referral-details").is_visible()
    assert page.locator("#submitter-details").is_visible()
    assert page.locator("#language-other").is_visible()
    assert_accessible(page, "filled form, every follow-up question shown")


def test_request_form_after_an_empty_submit(page):
    page.goto(FORM)
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    assert_accessible(page, "errors after an empty submit")


def test_request_form_with_errors_in_follow_up_questions(page):
    page.goto(FORM)
    fill_request_form(
        page,
        caregiver_answers(
            submitter_name="",
            email="maria@",
            phone="12",
            dob_month="2",
            dob_day="30",
            has_referral="yes",
            language="other",
            consent=None,
        ),
    )
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    assert page.locator(".error-summary li").count() >= 7
    assert_accessible(page, "errors in follow-up questions")


def test_request_form_without_the_site_script(new_page):
    """What people without JavaScript get: every follow-up question shown, and errors
    focused by the browser itself."""
    page = new_page(site_script=False)
    page.goto(FORM)
    assert page.locator("#referral-details").is_visible()
    assert page.locator("#submitter-details").is_visible()
    assert_accessible(page, "empty form, no site script")
    with page.expect_navigation():
        page.get_by_role("button", name="Send the request").click()
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert_accessible(page, "errors after an empty submit, no site script")


def test_confirmation_page(page):
    page.goto(FORM)
    fill_request_form(page, valid_answers())
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/request-appointment/received/*")
    assert_accessible(page, "confirmation")


def test_page_for_a_form_sent_again_with_changed_answers(page):
    page.goto(FORM)
    fill_request_form(page, valid_answers())
    token = page.locator("[name='form_token']").input_value()
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/request-appointment/received/*")
    # As after going back to the sent form: the same one-time token, one answer changed.
    page.goto(FORM)
    fill_request_form(page, valid_answers(phone="813 555 0199"))
    page.locator("[name='form_token']").evaluate("(el, token) => { el.value = token; }", token)
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_selector("[data-resent-changed]")
    assert "We already have this request" in page.title()
    assert_accessible(page, "form sent again with changed answers")


def test_not_found_page(page):
    response = page.goto("/no-such-page")
    assert response.status == 404
    assert_accessible(page, "404 page")


def test_form_sent_without_its_security_token(page):
    page.goto(FORM)
    page.evaluate("() => document.querySelector('[name=csrf_token]').remove()")
    fill_request_form(page, valid_answers())
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Send the request").click()
    assert navigation.value.status == 400
    assert page.get_by_role("heading", level=1).inner_text() == "Your form could not be sent"
    assert_accessible(page, "400 page for a missing CSRF token")


@pytest.mark.parametrize("path", ["/", FORM])
def test_every_control_shows_where_focus_is(page, path):
    page.goto(path)
    stops, unchanged = controls_without_visible_focus(page)
    assert stops > 3
    assert not unchanged, f"no visible focus on: {unchanged}"


def test_every_control_shows_focus_on_a_form_with_errors(page):
    page.goto(FORM)
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_load_state()
    stops, unchanged = controls_without_visible_focus(page)
    assert stops > 3
    assert not unchanged, f"no visible focus on: {unchanged}"


def test_landmarks_skip_link_and_headings(page):
    for path in ("/", FORM):
        page.goto(path)
        assert page.locator("header").count() == 1
        assert page.locator("main#main").count() == 1
        assert page.locator("footer").count() == 1
        levels = page.eval_on_selector_all(
            "h1, h2, h3, h4, h5, h6", "els => els.map(h => Number(h.tagName[1]))"
        )
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), levels
        page.keyboard.press("Tab")
        skip = page.locator(":focus")
        assert skip.inner_text() == "Skip to main content"
        box = skip.bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0, "the skip link shows when focused"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"


# WCAG 1.3.5: fields about the person filling in the form say what they are, so browsers
# and assistive tools can fill them in.
EXPECTED_AUTOCOMPLETE = {
    "submitter_name": "name",
    "submitter_phone": "tel",
    "submitter_email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "dob_month": "bday-month",
    "dob_day": "bday-day",
    "dob_year": "bday-year",
    "email": "email",
    "phone": "tel",
    "state": "address-level1",
    "zip_code": "postal-code",
}
# The physician's details: the browser must not offer the person's own name or number.
NOT_THE_PERSONS_OWN = [
    "physician_name",
    "physician_phone",
    "physician_practice",
    "physician_fax",
    "physician_email",
    "physician_npi",
]


def test_personal_fields_carry_autocomplete_values(page):
    page.goto(FORM)
    found = {
        name: page.locator(f"[name='{name}']").get_attribute("autocomplete")
        for name in EXPECTED_AUTOCOMPLETE
    }
    assert found == EXPECTED_AUTOCOMPLETE
    for name in NOT_THE_PERSONS_OWN:
        value = page.locator(f"[name='{name}']").get_attribute("autocomplete")
        assert value == "off", f"{name} has autocomplete={value!r}"
