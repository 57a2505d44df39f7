"""The request journey in Spanish on a 375-pixel phone, in real Chromium (issues 15 and 17):
a Spanish-speaking caregiver asks for an appointment for her mother from the first step to
the confirmation; mistakes are fixed from the error summary, each link putting its field
and label in view; axe-core finds nothing on any Spanish step or state; the language
switch mid-way opens the same step in English with the answers given, and back.

Set SPANISH_SCREENSHOTS=<folder> to keep a screenshot of each Spanish page (to read the
Spanish as a person sees it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.requests.fields import STEPS
from tests.browser.support import (
    PHONE,
    REFERENCE_PATTERN,
    assert_accessible,
    fill_step,
    horizontal_overflow,
    small_tap_targets,
)
from tests.browser.test_public_journeys import (
    REFERRAL,
    fix_from_the_summary,
    stored_request,
)
from tests.support.forms import caregiver_answers, valid_answers

pytestmark = pytest.mark.browser

ES = "/es/request-appointment"


def _shot(page, name: str) -> None:
    folder = os.environ.get("SPANISH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        # In screen-high pieces: a whole page of a phone is too tall to read as one image.
        width, height = page.viewport_size["width"], page.viewport_size["height"]
        total = page.evaluate("() => document.documentElement.scrollHeight")
        for piece, top in enumerate(range(0, total, height)):
            clip = {"x": 0, "y": top, "width": width, "height": min(height, total - top)}
            path = Path(folder) / f"{name}-{piece}.png"
            page.screenshot(path=str(path), full_page=True, clip=clip)


def _spanish_and_fits(page, where: str) -> None:
    assert page.locator("html").get_attribute("lang") == "es", where
    assert horizontal_overflow(page) <= 0, f"{where}: the page scrolls sideways"
    small = small_tap_targets(page)
    assert not small, f"{where}: tap targets under 24x24 px: {small}"
    assert_accessible(page, f"{where} (Spanish, 375 px)")
    _shot(page, where)


def _continue(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Continuar").click()


def test_a_caregiver_asks_in_spanish_from_the_first_step_to_the_confirmation(new_page, live_server):
    page = new_page(**PHONE, locale="es-US")
    last_name = "Cuidadora-Espanol"
    answers = {
        **caregiver_answers(last_name=last_name, call_first="caregiver", language="spanish"),
        **REFERRAL,
    }
    page.goto(ES)
    assert page.get_by_role("heading", level=1).inner_text() == "Pida una cita como paciente nuevo"
    _spanish_and_fits(page, "es-1-who-blank")
    fill_step(page, answers)
    _spanish_and_fits(page, "es-1-who-caregiver")
    _continue(page)
    for number, step in enumerate(STEPS[1:], start=2):
        assert page.locator("[data-progress]").inner_text() == f"Paso {number} de {len(STEPS)}"
        if step.value == "patient":
            assert page.get_by_text("Fecha de nacimiento del paciente").is_visible()
            assert page.get_by_text("Su fecha de nacimiento").count() == 0
        if step.value == "contact":
            # The preferred language starts on Spanish on a Spanish page.
            assert page.locator("[name=language][value=spanish]").is_checked()
        _spanish_and_fits(page, f"es-{number}-{step.value}")
        fill_step(page, answers)
        if step.value == "insurance":
            _spanish_and_fits(page, f"es-{number}-{step.value}-referral-open")
        _continue(page)

    assert page.url.endswith(f"{ES}/check")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Revise sus respuestas")
    assert page.locator("[data-answer='physician_name']").inner_text() == "Dr. Alan O'Neil"
    _spanish_and_fits(page, "es-7-check-answers")
    with page.expect_navigation():
        page.get_by_role("button", name="Enviar la solicitud").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Solicitud recibida"
    reference = page.locator("[data-reference]").inner_text()
    assert REFERENCE_PATTERN.match(reference)
    assert page.get_by_text("dentro de 2 días hábiles").is_visible()
    assert page.get_by_role("button", name="Imprimir esta página").is_visible()
    _spanish_and_fits(page, "es-8-confirmation")
    stored = stored_request(live_server, last_name)
    assert stored["submitter_name"] == "Ana Ruiz" and stored["physician_name"] == "Dr. Alan O'Neil"

    # Any step of the journey now says it was sent.
    page.goto(f"{ES}/who")
    assert page.get_by_role("heading", level=1).inner_text() == "Usted envió esta solicitud"
    _spanish_and_fits(page, "es-9-already-sent")
    # The confirmation's address opened in another browser: nothing about the request.
    confirmation = page.url
    other = new_page(**PHONE, locale="es-US")
    other.goto(page.locator("a[href*='/received/']").first.get_attribute("href"))
    assert "Solicitud recibida" not in other.locator("main").inner_text()
    _spanish_and_fits(other, "es-10-confirmation-elsewhere")
    assert confirmation


def test_mistakes_are_fixed_from_the_spanish_error_summary(new_page, live_server):
    page = new_page(**PHONE, locale="es-US")
    last_name = "Errores-Espanol"
    answers = valid_answers(
        last_name=last_name, dob_year="2099", email="maria@", phone="813 LLAME YA"
    )
    answers.pop("consent")
    page.goto(ES)
    fill_step(page, answers)
    _continue(page)

    fill_step(page, answers)
    _continue(page)
    assert page.title().startswith("Error: ")
    assert page.locator(".error-summary").get_by_text("Hay un problema").is_visible()
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    _spanish_and_fits(page, "es-err-2-patient")
    fix_from_the_summary(page, "dob_month", "La fecha de nacimiento debe ser en el pasado", "3")
    page.locator("#dob_year").fill("1965")
    _continue(page)

    fill_step(page, answers)
    _continue(page)
    assert page.locator("#phone").input_value() == "813 LLAME YA"
    _spanish_and_fits(page, "es-err-3-contact")
    fix_from_the_summary(page, "email", "Escriba una dirección de correo", "maria@example.com")
    fix_from_the_summary(page, "phone", "número de teléfono", "813 555 0123")
    _continue(page)
    fill_step(page, answers)
    _continue(page)
    fill_step(page, answers)
    _continue(page)

    _continue(page)  # consent forgotten
    _spanish_and_fits(page, "es-err-6-consent")
    fix_from_the_summary(page, "consent", "Confirme que podemos comunicarnos", None)
    assert page.locator("#consent").is_checked()
    _continue(page)
    assert page.url.endswith(f"{ES}/check")
    with page.expect_navigation():
        page.get_by_role("button", name="Enviar la solicitud").click()
    assert stored_request(live_server, last_name)["first_name"] == "Maria"


def test_every_spanish_step_sent_empty_is_accessible_and_fits(new_page):
    page = new_page(**PHONE, locale="es-US")
    page.goto(ES)
    for step in STEPS:
        page.goto(f"{ES}/{step.value}")
        _continue(page)
        assert page.title().startswith("Error: "), step.value
        _spanish_and_fits(page, f"es-empty-{step.value}")
        fill_step(page, caregiver_answers(**REFERRAL))
        _continue(page)


def test_the_language_switch_mid_journey_keeps_the_answers(new_page, live_server):
    page = new_page(**PHONE, locale="es-US")
    answers = caregiver_answers(last_name="Cambio-Idioma", language="spanish")
    page.goto(ES)
    fill_step(page, answers)
    _continue(page)
    fill_step(page, answers)
    _continue(page)
    assert page.url.endswith(f"{ES}/contact")
    # Half of the contact step typed, then English.
    page.locator("#phone").fill(answers["phone"])
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.url.endswith("/request-appointment/contact") and "/es/" not in page.url
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "How to reach you and the patient"
    # Answers sent before are there; the half-typed page was not sent, so it is not.
    page.get_by_role("link", name="Back", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith("/request-appointment/patient")
    assert page.locator("#first_name").input_value() == "Maria"
    assert page.locator("#last_name").input_value() == "Cambio-Idioma"
    assert page.locator("#dob_year").input_value() == "1965"
    # On in English, then back to Spanish: everything kept.
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    fill_step(page, answers)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/request-appointment/diagnosis")
    page.get_by_role("link", name="Español", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"{ES}/diagnosis")
    assert page.get_by_role("heading", level=1).inner_text() == "El diagnóstico"
    page.get_by_role("link", name="Atrás", exact=True).click()
    page.wait_for_load_state()
    assert page.url.endswith(f"{ES}/contact")
    assert page.locator("#phone").input_value() == answers["phone"]
    assert page.locator("#submitter_phone").input_value() == answers["submitter_phone"]
    _spanish_and_fits(page, "es-switch-contact-kept")
