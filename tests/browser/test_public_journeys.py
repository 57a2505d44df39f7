"""People asking for an appointment through the journey's steps, in a real browser, on a
375-pixel phone and a 1280-pixel screen: a patient, a caregiver, someone who makes the
common mistakes, Back at every step and after sending, a change from "Check your answers",
and the whole journey by keyboard alone, with and without JavaScript."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.requests.fields import STEPS
from tests.browser.support import (
    DESKTOP,
    PHONE,
    REFERENCE_PATTERN,
    assert_accessible,
    continue_to_next,
    field_in_view,
    fill_step,
    horizontal_overflow,
    send_from_check_answers,
    small_tap_targets,
    tab_to,
    walk_to_check_answers,
)
from tests.support.forms import caregiver_answers, referral_answers, valid_answers

pytestmark = pytest.mark.browser

FORM = "/request-appointment"
CHECK = "/request-appointment/check"
SCREENS = pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=["375px", "1280px"])
JS_ON_AND_OFF = pytest.mark.parametrize(
    "javascript", [True, False], ids=["javascript", "no-javascript"]
)
REFERRAL = {k: v for k, v in referral_answers().items() if k.startswith(("physician", "has_"))}


def stored_requests(live_server, last_name: str) -> list[dict]:
    engine = create_engine(live_server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT r.reference, r.first_name, r.submitted_by_patient, r.submitter_name,"
                    " r.submitter_phone, r.call_first, r.sex, r.state, r.best_time_to_call,"
                    " r.insurance_type, r.insurance_carrier, r.interpreter_needed,"
                    " r.has_referral, r.metastasis_sites, f.physician_name, f.npi"
                    " FROM appointment_requests r LEFT JOIN referrals f ON f.request_id = r.id"
                    " WHERE r.last_name = :last_name"
                ),
                {"last_name": last_name},
            ).all()
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def stored_request(live_server, last_name: str) -> dict:
    rows = stored_requests(live_server, last_name)
    assert len(rows) == 1, f"{len(rows)} requests stored for {last_name}"
    return rows[0]


def assert_fits(page, screen, where: str) -> None:
    assert horizontal_overflow(page) <= 0, f"{where}: the page scrolls sideways"
    if screen is PHONE:
        small = small_tap_targets(page)
        assert not small, f"{where}: tap targets under 24x24 px: {small}"


def name_for(test: str, screen) -> str:
    # A last name of letters only, different for each screen.
    return f"{test}-{'Phone' if screen is PHONE else 'Screen'}"


@SCREENS
def test_a_patient_without_a_referral(new_page, live_server, screen):
    page = new_page(**screen)
    last_name = name_for("Patient-Alone", screen)
    answers = valid_answers(last_name=last_name, has_referral="no", insurance_type="none")
    page.goto("/")
    page.get_by_role("link", name="Ask for an appointment online").first.click()
    page.wait_for_url(f"**{FORM}")
    for number in range(1, len(STEPS) + 1):
        assert page.locator("[data-progress]").inner_text() == f"Step {number} of {len(STEPS)}"
        assert_accessible(page, f"step {number}, empty")
        fill_step(page, answers)
        assert_fits(page, screen, f"step {number}")
        assert_accessible(page, f"step {number}, answered")
        if number == 2:
            # Speaking to the patient: "your", never "the patient's".
            assert page.get_by_text("Your date of birth").is_visible()
        if number == 5:
            # Self-pay: no insurance company; no referral: no physician.
            assert not page.locator("#insurance_carrier").is_visible()
            assert not page.locator("#physician_name").is_visible()
        continue_to_next(page)
    assert page.url.endswith(CHECK)
    assert_accessible(page, "check your answers")
    assert_fits(page, screen, "check your answers")
    answers_shown = page.locator("[data-answer]").all_inner_texts()
    assert "Maria" in answers_shown and "03/27/1965" in answers_shown
    assert page.locator("[data-answer='insurance_carrier']").count() == 0

    reference = send_from_check_answers(page)
    assert REFERENCE_PATTERN.match(reference), reference
    assert_accessible(page, "confirmation")
    assert_fits(page, screen, "confirmation")
    assert last_name not in page.content(), "the confirmation shows no patient data"
    assert page.get_by_role("button", name="Print this page").is_visible()
    stored = stored_request(live_server, last_name)
    assert stored["reference"] == reference.replace("-", "")
    assert stored["submitted_by_patient"] and not stored["has_referral"]
    assert stored["insurance_type"] == "none" and stored["insurance_carrier"] is None


@SCREENS
def test_a_caregiver_with_a_referral(new_page, live_server, screen):
    page = new_page(**screen)
    last_name = name_for("Caregiver-Referral", screen)
    answers = {**caregiver_answers(last_name=last_name, call_first="caregiver"), **REFERRAL}
    page.goto(FORM)
    # The caregiver's own questions wait for "I am filling this in for the patient".
    assert not page.locator("#submitter_name").is_visible()
    fill_step(page, answers)
    assert page.locator("#submitter_name").is_visible()
    continue_to_next(page)
    # Every label speaks about the patient to someone else.
    assert page.get_by_text("The patient's date of birth").is_visible()
    assert page.get_by_text("Your date of birth").count() == 0
    fill_step(page, answers)
    continue_to_next(page)
    # How to reach them: the patient, then the caregiver's own phone and who to call first.
    assert page.get_by_role("heading", name="You", exact=True).is_visible()
    assert page.locator("#submitter_phone").is_visible()
    assert_accessible(page, "a caregiver's contact step")
    fill_step(page, answers)
    continue_to_next(page)
    fill_step(page, answers)
    continue_to_next(page)
    assert not page.locator("#physician_name").is_visible()
    fill_step(page, answers)
    assert page.locator("#physician_name").is_visible()
    assert_fits(page, screen, "referral")
    assert_accessible(page, "referral questions open")
    continue_to_next(page)
    fill_step(page, answers)
    continue_to_next(page)
    assert page.url.endswith(CHECK)
    assert page.locator("[data-answer='physician_name']").inner_text() == "Dr. Alan O'Neil"
    assert page.locator("[data-answer='submitter_name']").inner_text() == "Ana Ruiz"

    send_from_check_answers(page)
    stored = stored_request(live_server, last_name)
    assert not stored["submitted_by_patient"]
    assert stored["submitter_name"] == "Ana Ruiz"
    assert stored["submitter_phone"] == "+18135550177"
    assert stored["call_first"] == "caregiver"
    assert stored["has_referral"] and stored["physician_name"] == "Dr. Alan O'Neil"


def summary_links(page) -> list[tuple[str, str]]:
    links = page.eval_on_selector_all(
        ".error-summary a", "links => links.map(a => [a.getAttribute('href'), a.innerText])"
    )
    return [tuple(link) for link in links]


def fix_from_the_summary(page, field_id: str, message: str, value: str | None) -> None:
    """Follow the summary's link for one problem: the field has focus, its box and label
    are on screen; then type the correction (or tick the box)."""
    links = dict(summary_links(page))
    assert message in links.get(f"#{field_id}", ""), links
    page.evaluate("() => window.scrollTo(0, 0)")
    page.locator(f".error-summary a[href='#{field_id}']").click()
    where = field_in_view(page, field_id)
    assert where["focused"], f"{field_id} has focus"
    assert 0 <= where["top"] and where["bottom"] <= where["height"], (field_id, where)
    assert 0 <= where["labelTop"], (field_id, where)
    if value is None:
        page.keyboard.press("Space")
    else:
        page.keyboard.press("Control+a")
        page.keyboard.type(value)


@SCREENS
def test_the_common_mistakes_are_fixed_from_the_error_summary(new_page, live_server, screen):
    page = new_page(**screen)
    last_name = name_for("Mistakes", screen)
    answers = valid_answers(
        last_name=last_name, dob_year="2099", email="maria@", phone="813 CALL NOW"
    )
    answers.pop("consent")
    page.goto(FORM)
    fill_step(page, answers)
    continue_to_next(page)

    # A birth date in the future.
    fill_step(page, answers)
    continue_to_next(page)
    assert page.title().startswith("Error: ")
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    assert_accessible(page, "a birth date in the future")
    fix_from_the_summary(page, "dob_month", "Date of birth must be in the past", "3")
    page.locator("#dob_year").fill("1965")
    continue_to_next(page)

    # Letters in a phone number, and a bad e-mail: both explained, what was typed kept.
    fill_step(page, answers)
    continue_to_next(page)
    assert page.title().startswith("Error: ")
    assert page.locator("#phone").input_value() == "813 CALL NOW"
    assert page.locator("#email").input_value() == "maria@"
    assert_accessible(page, "a phone with letters and a bad e-mail")
    fix_from_the_summary(page, "email", "Enter an email address", "maria.santos@example.com")
    fix_from_the_summary(page, "phone", "phone number", "813 555 0123")
    continue_to_next(page)
    fill_step(page, answers)
    continue_to_next(page)
    fill_step(page, answers)
    continue_to_next(page)

    # Consent forgotten.
    continue_to_next(page)
    assert page.title().startswith("Error: ")
    fix_from_the_summary(page, "consent", "Confirm that we may contact you", None)
    assert page.locator("#consent").is_checked()
    continue_to_next(page)
    assert page.url.endswith(CHECK)
    send_from_check_answers(page)
    assert stored_request(live_server, last_name)["first_name"] == "Maria"


# Answers that open every question that depends on another, left empty or wrong: between
# this and every step sent empty, every field that can be in error is.
WRONG = {
    "submitter": "someone_else",
    "submitter_name": "",
    "submitter_relationship": "",
    "dob_month": "2",
    "dob_day": "30",
    "dob_year": "1980",
    "zip_code": "123",
    "phone": "555",
    "email": "maria@",
    "contact_method": "email",
    "language": "other",
    "language_other": "",
    "submitter_email": "ana@",
    "diagnosed_metastatic": "yes",
    "metastasis_sites": [],
    "insurance_type": "commercial",
    "insurance_carrier": "",
    "has_referral": "yes",
    "physician_name": "",
    "physician_phone": "12",
    "physician_fax": "fax",
    "physician_email": "oneil@",
    "physician_npi": "12345",
    "message": "x" * 2001,
}


def test_every_error_link_brings_its_field_into_view_on_a_phone(new_page):
    page = new_page(**PHONE)
    checked = set()
    for answers in ({}, WRONG):
        page.goto(FORM)
        for step in STEPS:
            page.goto(f"{FORM}/{step.value}")
            fill_step(page, answers)
            continue_to_next(page)
            if not page.title().startswith("Error: "):
                continue
            assert_accessible(page, f"{step.value} with problems")
            for href, _message in summary_links(page):
                page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
                page.evaluate("() => window.scrollTo(0, 0)")
                page.locator(f".error-summary a[href='{href}']").click()
                where = field_in_view(page, href[1:])
                assert where["focused"], href
                assert 0 <= where["top"] and where["bottom"] <= where["height"], (href, where)
                assert 0 <= where["labelTop"] < where["height"], (href, where)
                checked.add(href[1:])
            # On to the next step with good answers, so each step's problems are its own.
            fill_step(page, caregiver_answers(**REFERRAL))
            continue_to_next(page)
    expected = {
        "submitter-0", "submitter_name", "submitter_relationship", "first_name", "last_name",
        "dob_month", "state", "zip_code", "phone", "email", "contact_method-0",
        "best_time_to_call-0", "language-0", "language_other", "interpreter_needed-0",
        "submitter_phone", "submitter_email", "call_first-0", "diagnosed_metastatic-0",
        "metastasis_sites-0", "in_treatment-0", "insurance_type-0", "insurance_carrier",
        "has_referral-0", "physician_name", "physician_phone", "physician_fax",
        "physician_email", "physician_npi", "message", "consent",
    }  # fmt: skip
    assert expected <= checked, sorted(expected - checked)


@JS_ON_AND_OFF
def test_back_at_every_step_and_after_sending_loses_nothing_and_sends_once(
    new_page, live_server, javascript
):
    page = new_page(javascript=javascript, **PHONE)
    last_name = "Back-" + ("Script" if javascript else "Plain")
    answers = {**caregiver_answers(last_name=last_name), **REFERRAL}
    page.goto(FORM)
    for number, step in enumerate(STEPS, start=1):
        fill_step(page, answers)
        continue_to_next(page)
        # Back: the step just answered, with its answers, and no "Confirm form resubmission".
        response = page.go_back()
        assert response is None or response.ok
        assert page.locator("[data-progress]").inner_text().startswith(f"Step {number} ")
        for name in ("submitter_name", "last_name", "submitter_phone", "physician_name"):
            if page.locator(f"#{name}").count():
                assert page.locator(f"#{name}").input_value() == answers[name], name
        if javascript and step.value == "insurance":
            # The referral was "yes": its questions are open again.
            assert page.locator("#physician_name").is_visible()
        # A reload of the step too.
        page.reload()
        assert not page.title().startswith("Error")
        continue_to_next(page)
    assert page.url.endswith(CHECK)
    reference = send_from_check_answers(page)

    # Back after sending: the answers page says it was sent; no way to send it twice.
    page.go_back()
    assert "You sent this request" in page.locator("main").inner_text()
    assert reference in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Send the request").count() == 0
    page.go_back()
    assert "You sent this request" in page.locator("main").inner_text()
    assert len(stored_requests(live_server, last_name)) == 1
    # A new request only when asked for.
    with page.expect_navigation():
        page.get_by_role("button", name="Start a new request").click()
    assert page.locator("[data-progress]").inner_text() == f"Step 1 of {len(STEPS)}"
    assert not page.locator("#submitter-1").is_checked()


def test_a_change_from_check_your_answers_comes_back_to_them(new_page, live_server):
    page = new_page(**PHONE)
    last_name = "Changed-Mind"
    walk_to_check_answers(page, valid_answers(last_name=last_name))
    change = page.locator("a[href$='#first_name']")
    assert "Change" in change.inner_text()
    with page.expect_navigation():
        change.click()
    assert page.evaluate("() => document.activeElement.id") == "first_name"
    assert page.get_by_role("link", name="Back to your answers").is_visible()
    page.locator("#first_name").fill("Mariana")
    continue_to_next(page)
    assert page.url.endswith(CHECK)
    assert page.locator("[data-answer='first_name']").inner_text() == "Mariana"

    # A change that opens new questions asks them, then comes back.
    with page.expect_navigation():
        page.locator("a[href$='#submitter-0']").click()
    fill_step(page, caregiver_answers())
    continue_to_next(page)
    assert page.locator("#submitter_phone").is_visible()
    fill_step(page, caregiver_answers())
    continue_to_next(page)
    assert page.url.endswith(CHECK)
    send_from_check_answers(page)
    stored = stored_request(live_server, last_name)
    assert stored["first_name"] == "Mariana" and not stored["submitted_by_patient"]


def press_space_on(page, selector: str) -> None:
    tab_to(page, selector)
    page.keyboard.press("Space")


def type_into(page, selector: str, value: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(value)


def enter_to_continue(page, from_selector: str) -> None:
    """Enter in a text box goes on to the next step (never sends the request)."""
    tab_to(page, from_selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


@JS_ON_AND_OFF
def test_the_whole_journey_by_keyboard_alone(new_page, live_server, javascript):
    page = new_page(javascript=javascript)
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.locator(":focus").inner_text() == "Skip to main content"
    tab_to(page, "a.button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(FORM)
    last_name = "Keyboard-" + ("Script" if javascript else "Plain")

    press_space_on(page, "#submitter-0")
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    type_into(page, "#first_name", "Maria")
    type_into(page, "#last_name", last_name)
    type_into(page, "#dob_month", "3")
    type_into(page, "#dob_day", "27")
    type_into(page, "#dob_year", "1965")
    tab_to(page, "#sex-0")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # arrows choose in a radio group: "Prefer not to say"
    type_into(page, "#state", "Florida")  # a closed list picks by typing
    type_into(page, "#zip_code", "33612")
    enter_to_continue(page, "#zip_code")

    type_into(page, "#phone", "813 555 0123")
    type_into(page, "#email", "maria.keyboard@example.com")
    press_space_on(page, "#contact_method-0")
    tab_to(page, "#best_time_to_call-0")
    page.keyboard.press("ArrowDown")  # afternoon
    press_space_on(page, "#language-0")
    tab_to(page, "#interpreter_needed-0")
    page.keyboard.press("ArrowRight")  # no
    enter_to_continue(page, "#phone")

    press_space_on(page, "#diagnosed_metastatic-0")
    press_space_on(page, "#metastasis_sites-0")
    press_space_on(page, "#metastasis_sites-2")
    press_space_on(page, "#in_treatment-0")
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    tab_to(page, "#insurance_type-0")
    page.keyboard.press("ArrowDown")  # Medicare: no company name needed
    press_space_on(page, "#has_referral-0")
    type_into(page, "#physician_name", "Dr. Alan O'Neil")
    type_into(page, "#physician_phone", "727 555 0142")
    type_into(page, "#physician_npi", "1234567893")
    enter_to_continue(page, "#physician_npi")

    type_into(page, "#message", "Mornings are hard; afternoons are best.")
    press_space_on(page, "#consent")
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url.endswith(CHECK)
    tab_to(page, "button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == "Request received"
    reference = page.locator("[data-reference]").inner_text()
    assert REFERENCE_PATTERN.match(reference), reference
    stored = stored_request(live_server, last_name)
    assert stored["reference"] == reference.replace("-", "")
    assert stored["sex"] == "prefer_not_to_say"
    assert stored["best_time_to_call"] == "afternoon"
    assert stored["state"] == "FL"
    assert stored["insurance_type"] == "medicare"
    assert not stored["interpreter_needed"]
    assert stored["physician_name"] == "Dr. Alan O'Neil" and stored["npi"] == "1234567893"


def test_the_confirmation_prints_and_reopens_in_the_same_browser_only(new_page, live_server):
    page = new_page(**PHONE)
    walk_to_check_answers(page, valid_answers(last_name="Printing"))
    reference = send_from_check_answers(page)
    address = page.url
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    assert not page.get_by_role("button", name="Print this page").is_visible()
    assert page.locator("[data-reference]").is_visible()
    page.emulate_media(media="screen")
    page.goto("/")
    page.goto(address)
    assert page.locator("[data-reference]").inner_text() == reference

    elsewhere = new_page(**PHONE)
    elsewhere.goto(address)
    words = elsewhere.locator("main").inner_text()
    assert "kept safely" in words and reference not in words
    assert_accessible(elsewhere, "a confirmation opened elsewhere")

    no_script = new_page(javascript=False, **PHONE)
    walk_to_check_answers(no_script, valid_answers(last_name="Printing-Plain"))
    send_from_check_answers(no_script)
    assert not no_script.get_by_role("button", name="Print this page").is_visible()
    assert no_script.get_by_text("Print or Share menu").is_visible()


def test_public_pages_reflow_at_320_pixels(new_page):
    """WCAG 1.4.10: content reflows at 320 CSS pixels (a 1280-pixel screen at 400% zoom)."""
    page = new_page(viewport={"width": 320, "height": 640})
    page.goto("/")
    assert horizontal_overflow(page) <= 0, "/ scrolls sideways at 320 px"
    walk_to_check_answers(page, {**caregiver_answers(), **REFERRAL})
    assert horizontal_overflow(page) <= 0, "check your answers scrolls sideways at 320 px"
    for step in STEPS:
        page.goto(f"{FORM}/{step.value}")
        assert horizontal_overflow(page) <= 0, f"{step.value} scrolls sideways at 320 px"
