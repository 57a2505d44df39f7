"""axe-core's WCAG 2.0/2.1 A and AA rules, focus, landmarks and autocomplete on every
public page: each step of the journey empty, with every follow-up question open and filled,
with problems, without the site's script; "Check your answers", the confirmation, the
page after sending and the page for a confirmation opened elsewhere."""

from __future__ import annotations

import pytest

from app.requests.fields import STEPS
from tests.browser.support import (
    assert_accessible,
    continue_to_next,
    controls_without_visible_focus,
    fill_step,
    send_from_check_answers,
    walk_to_check_answers,
)
from tests.support.forms import caregiver_answers, referral_answers

pytestmark = pytest.mark.browser

FORM = "/request-appointment"
CHECK = "/request-appointment/check"
EVERYTHING_OPEN = {
    **caregiver_answers(call_first="caregiver", language="other", language_other="Portuguese"),
    **{k: v for k, v in referral_answers().items() if k.startswith(("physician", "has_"))},
    "message": "Please call after 10 a.m.",
}


def test_information_page(page):
    response = page.goto("/")
    assert response.status == 200
    assert_accessible(page, "information page")


def test_every_step_empty_filled_and_with_problems(page):
    page.goto(FORM)
    for step in STEPS:
        assert_accessible(page, f"{step.value}, empty")
        continue_to_next(page)
        assert page.title().startswith("Error:"), step.value
        assert_accessible(page, f"{step.value}, with problems")
        fill_step(page, EVERYTHING_OPEN)
        assert_accessible(page, f"{step.value}, every follow-up question open and filled")
        continue_to_next(page)
    assert page.url.endswith(CHECK)
    assert_accessible(page, "check your answers")


def test_problems_in_follow_up_questions(page):
    page.goto(FORM)
    fill_step(page, caregiver_answers(submitter_name=""))
    continue_to_next(page)
    assert page.locator(".error-summary li").count() == 1
    assert_accessible(page, "a caregiver's name missing")


def test_steps_without_the_site_script(new_page):
    """What people without JavaScript get: every follow-up question shown, and the
    problems focused by the browser itself."""
    page = new_page(site_script=False)
    page.goto(FORM)
    assert page.locator("#submitter-details").is_visible()
    assert_accessible(page, "first step, no site script")
    continue_to_next(page)
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert_accessible(page, "problems, no site script")
    for step in STEPS:
        fill_step(page, EVERYTHING_OPEN)
        if step.value == "insurance":
            assert page.locator("#referral-details").is_visible()
            assert page.locator("#insurance-company").is_visible()
        if step.value == "diagnosis":
            assert page.locator("#where-it-has-spread").is_visible()
        assert_accessible(page, f"{step.value}, no site script")
        continue_to_next(page)
    assert_accessible(page, "check your answers, no site script")


def test_confirmation_and_the_pages_after_it(new_page):
    page = new_page()
    walk_to_check_answers(page, EVERYTHING_OPEN)
    send_from_check_answers(page)
    assert_accessible(page, "confirmation")
    address = page.url
    page.goto(FORM)
    assert "You sent this request" in page.locator("main").inner_text()
    assert_accessible(page, "a form already sent")
    elsewhere = new_page()
    elsewhere.goto(address)
    assert_accessible(elsewhere, "a confirmation opened in another browser")


def test_not_found_page(page):
    response = page.goto("/no-such-page")
    assert response.status == 404
    assert_accessible(page, "404 page")


def test_form_sent_without_its_security_token(page):
    # The first page has no token (its post is checked by where it came from); the second,
    # once the browser holds a draft, has one.
    page.goto(FORM)
    fill_step(page, EVERYTHING_OPEN)
    continue_to_next(page)
    page.evaluate("() => document.querySelector('[name=csrf_token]').remove()")
    fill_step(page, EVERYTHING_OPEN)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Continue").click()
    assert navigation.value.status == 400
    assert page.get_by_role("heading", level=1).inner_text() == "Your form could not be sent"
    assert_accessible(page, "400 page for a missing CSRF token")


@pytest.mark.parametrize("path", ["/", FORM, CHECK])
def test_every_control_shows_where_focus_is(page, path):
    if path == CHECK:
        walk_to_check_answers(page, EVERYTHING_OPEN)
    page.goto(path)
    stops, unchanged = controls_without_visible_focus(page)
    assert stops > 3
    assert not unchanged, f"no visible focus on: {unchanged}"


def test_every_control_shows_focus_on_a_form_with_errors(page):
    page.goto(FORM)
    continue_to_next(page)
    stops, unchanged = controls_without_visible_focus(page)
    assert stops > 3
    assert not unchanged, f"no visible focus on: {unchanged}"


def test_landmarks_skip_link_and_headings(page):
    walk_to_check_answers(page, EVERYTHING_OPEN)
    for path in ("/", FORM, *(f"{FORM}/{step.value}" for step in STEPS), CHECK):
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
CAREGIVER_OWN = {"submitter_name": "name", "submitter_phone": "tel", "submitter_email": "email"}
PATIENT_OWN = {
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
# The physician's details, and the patient's for a caregiver: the browser must not offer
# the person's own name or number.
NOT_THE_PERSONS_OWN = [
    "first_name",
    "last_name",
    "dob_year",
    "email",
    "phone",
    "zip_code",
    "physician_name",
    "physician_phone",
    "physician_practice",
    "physician_fax",
    "physician_email",
    "physician_npi",
]


def test_personal_fields_carry_autocomplete_values(page):
    # The patient's own details for the patient; a caregiver's own name and phone.
    walk_to_check_answers(page, caregiver_answers(submitter="patient"))
    found = {}
    for step in STEPS:
        page.goto(f"{FORM}/{step.value}")
        for name in PATIENT_OWN:
            if page.locator(f"[name='{name}']").count():
                found[name] = page.locator(f"[name='{name}']").get_attribute("autocomplete")
    assert found == PATIENT_OWN
    walk_to_check_answers(page, EVERYTHING_OPEN)
    found = {}
    for step in STEPS:
        page.goto(f"{FORM}/{step.value}")
        for name in [*CAREGIVER_OWN, *NOT_THE_PERSONS_OWN]:
            if page.locator(f"[name='{name}']").count():
                found[name] = page.locator(f"[name='{name}']").get_attribute("autocomplete")
    assert {name: found[name] for name in CAREGIVER_OWN} == CAREGIVER_OWN
    for name in NOT_THE_PERSONS_OWN:
        assert found[name] == "off", f"{name} has autocomplete={found[name]!r}"
