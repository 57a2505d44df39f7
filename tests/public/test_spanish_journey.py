"""The request journey in Spanish (issues 15 and 17): every step and state under /es/ shows
no English sentence of the catalog, speaks to the patient or about them in Spanish, keeps
the answers when the language is switched mid-way, and a request sent from it is stored
and e-mailed as Spanish."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.models import AppointmentRequest, OutboxMessage
from app.requests import appointment_requests
from app.requests.fields import STEPS, Step
from tests.conftest import count_rows, make_test_app
from tests.support.forms import (
    caregiver_answers,
    form_tokens,
    page_csrf,
    referral_answers,
    step_data,
    valid_answers,
)
from tests.support.html import parse
from tests.support.spanish import english_left_in, readable_text

ES = "/es/request-appointment"


def _url(step: Step | str) -> str:
    return f"{ES}/{getattr(step, 'value', step)}"


def _all_spanish(response, status: int = 200) -> str:
    """The page's readable text, after checking it is a Spanish page with no English
    sentence of the catalog left in it."""
    assert response.status_code == status, response.status_code
    assert parse(response).html["lang"] == "es"
    text = readable_text(response.get_data(as_text=True))
    assert english_left_in(text) == [], response.request.path
    return text


def _post(client, step: Step, answers: dict, csrf: str, **kwargs):
    return client.post(_url(step), data={**step_data(step, answers), "csrf_token": csrf}, **kwargs)


def _walk(client, answers: dict, *, until: Step | None = None, check_each=None) -> str:
    """Answer the steps in Spanish up to (not including) ``until``, or all of them; returns
    the CSRF token of the last page opened. ``check_each(step, response)`` sees each
    step's page before it is answered."""
    page = client.get(ES)
    csrf = page_csrf(page.get_data(as_text=True))
    for step in STEPS:
        if step is until:
            break
        if step is not STEPS[0]:
            page = client.get(_url(step))
            csrf = page_csrf(page.get_data(as_text=True))
        if check_each is not None:
            check_each(step, page)
        response = _post(client, step, answers, csrf)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/es/request-appointment/")
    return csrf


def _send(client, answers: dict):
    _walk(client, answers)
    check = client.get(f"{ES}/check")
    return client.post(f"{ES}/check", data=form_tokens(check.get_data(as_text=True)))


# Every step and state -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "speaking"),
    [
        (valid_answers(), "Su fecha de nacimiento"),
        (caregiver_answers(), "Fecha de nacimiento del paciente"),
        (referral_answers(), "Su fecha de nacimiento"),
    ],
    ids=["patient", "caregiver", "with-referral"],
)
def test_every_step_blank_and_check_your_answers_are_all_spanish(client, answers, speaking):
    seen = {}

    def check(step, page):
        seen[step] = _all_spanish(page)
        assert f"Paso {STEPS.index(step) + 1} de {len(STEPS)}" in seen[step]

    _walk(client, answers, check_each=check)
    assert set(seen) == set(STEPS)
    assert "¿Quién llena este formulario?" in seen[Step.WHO]
    assert speaking in seen[Step.PATIENT]
    check_page = _all_spanish(client.get(f"{ES}/check"))
    assert "Revise sus respuestas antes de enviar la solicitud" in check_page
    assert "Cambiar" in check_page and "Enviar la solicitud" in check_page
    # The coded answers read in Spanish too.
    assert "Huesos" in check_page and "Florida" in check_page
    # The date of birth with its month's name: never read as 3 July.
    assert "27 de marzo de 1965" in check_page


def test_every_step_with_its_problems_is_all_spanish(client):
    answers = caregiver_answers()
    # Wrong or missing answers on each step: each rule's message in Spanish.
    wrong = {
        Step.WHO: {
            "submitter": "someone_else",
            "submitter_name": "4",
            "submitter_relationship": "",
        },
        Step.PATIENT: {"first_name": "", "last_name": "R2D2", "dob_month": "2", "dob_year": "65"},
        Step.CONTACT: {"phone": "llámeme", "email": "maria@", "language": "other"},
        Step.DIAGNOSIS: {"metastasis_sites": ["bones", "not_sure"]},
        Step.INSURANCE: {"insurance_type": "commercial", "has_referral": "yes"},
        Step.CONSENT: {"message": "x" * 2001},
    }
    csrf = page_csrf(client.get(ES).get_data(as_text=True))
    for step in STEPS:
        response = client.post(_url(step), data={**wrong[step], "csrf_token": csrf})
        assert response.status_code == 303
        assert response.headers["Location"] == _url(step)
        page = client.get(_url(step))
        text = _all_spanish(page)
        assert "Hay un problema" in text, step
        summary = parse(page).select("[data-error-summary] a")
        assert summary, step
        csrf = page_csrf(page.get_data(as_text=True))
        assert _post(client, step, answers, csrf).status_code == 303
    assert "Revise sus respuestas" in _all_spanish(client.get(f"{ES}/check"))


def test_the_date_and_age_messages_are_whole_spanish_sentences(client):
    csrf = _walk(client, valid_answers(), until=Step.PATIENT)
    csrf = page_csrf(client.get(_url(Step.PATIENT)).get_data(as_text=True))
    client.post(
        _url(Step.PATIENT),
        data={**step_data(Step.PATIENT, valid_answers(dob_year="1890")), "csrf_token": csrf},
    )
    text = _all_spanish(client.get(_url(Step.PATIENT)))
    assert "Revise el año de nacimiento: usted no puede tener más de" in text


def test_the_confirmation_and_the_pages_after_sending_are_all_spanish(app, client, db):
    response = _send(client, caregiver_answers())
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(f"{ES}/received/")
    text = _all_spanish(client.get(location))
    assert "Solicitud recibida" in text
    # The promise in business days and the hours in Spanish; what to have ready; printing.
    assert "Le llamaremos dentro de 2 días hábiles" in text
    assert app.config["CALLBACK_HOURS_ES"] in text
    assert "La tarjeta del seguro" in text and "Imprimir esta página" in text
    # Any journey page of that browser now says it was sent.
    for step in (STEPS[0], STEPS[3]):
        sent = _all_spanish(client.get(_url(step)))
        assert "Usted envió esta solicitud" in sent
    assert "Usted envió esta solicitud" in _all_spanish(client.get(f"{ES}/check"))
    # Reopened in another browser: the same page for anyone, in Spanish.
    elsewhere = _all_spanish(app.test_client().get(location))
    assert "Para preguntar por su solicitud" in elsewhere
    assert "Solicitud recibida" not in elsewhere
    db.rollback()
    row = db.scalars(select(AppointmentRequest)).one()
    assert row.form_language == "es"


def test_changed_answers_sent_again_are_told_in_spanish(client, monkeypatch):
    # Only two tabs racing can send other answers with a stored token: the answer is made
    # to say so here.
    real = appointment_requests.submit_request

    def changed(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), changed=True)

    monkeypatch.setattr(appointment_requests, "submit_request", changed)
    text = _all_spanish(_send(client, valid_answers()))
    assert "Ya tenemos esta solicitud" in text
    assert "Le llamaremos" not in text and "2 días hábiles" in text


def _failing_commit(self):
    raise OperationalError("COMMIT", {}, Exception("server closed the connection"))


def test_a_step_or_the_send_not_saved_is_said_in_spanish(client, monkeypatch):
    answers = valid_answers()
    _walk(client, answers)
    tokens = form_tokens(client.get(f"{ES}/check").get_data(as_text=True))
    with monkeypatch.context() as patch:
        patch.setattr("sqlalchemy.orm.Session.commit", _failing_commit)
        sent = client.post(f"{ES}/check", data=tokens)
        step = _post(client, Step.CONSENT, answers, tokens["csrf_token"])
    assert "Su solicitud todavía no se ha enviado" in _all_spanish(sent, 503)
    assert "todavía no se han guardado" in _all_spanish(step, 503)


def test_the_too_many_requests_pages_are_spanish(database_url):
    app = make_test_app(database_url, FORM_RATE_LIMIT="1 per hour", DRAFT_RATE_LIMIT="2 per hour")
    assert _send(app.test_client(), valid_answers()).status_code == 303
    refused = _send(app.test_client(), valid_answers(first_name="Ana"))
    assert "Demasiados intentos" in _all_spanish(refused, 429)
    # A third request begun from the same address: the draft limit.
    client = app.test_client()
    csrf = page_csrf(client.get(ES).get_data(as_text=True))
    begun = _post(client, Step.WHO, valid_answers(), csrf)
    assert "Demasiados intentos" in _all_spanish(begun, 429)


# The language switch mid-journey ---------------------------------------------------------


def _checked(page) -> dict[str, str]:
    soup = parse(page)
    chosen = {tag["name"]: tag["value"] for tag in soup.select("input[checked]")}
    typed = {
        tag["name"]: tag.get("value", "")
        for tag in soup.select("input[type=text], input[type=tel], input[type=email]")
    }
    return {**chosen, **typed}


def test_the_switch_on_a_step_opens_the_same_step_in_the_other_language_with_its_answers(
    client,
):
    answers = caregiver_answers()
    # Two steps answered in English, the third in Spanish, then back to English.
    csrf = page_csrf(client.get("/request-appointment").get_data(as_text=True))
    for step in STEPS[:2]:
        response = client.post(
            f"/request-appointment/{step.value}",
            data={**step_data(step, answers), "csrf_token": csrf},
        )
        assert response.status_code == 303
        csrf = page_csrf(client.get(response.headers["Location"]).get_data(as_text=True))
    english_patient = client.get("/request-appointment/patient")
    switch = parse(english_patient).select_one("[data-language-switch]")
    assert switch["href"] == f"{ES}/patient"
    spanish_patient = client.get(switch["href"])
    assert "Sobre el paciente" in _all_spanish(spanish_patient)
    assert _checked(spanish_patient)["first_name"] == "Maria"
    assert _checked(spanish_patient) == _checked(english_patient)
    # Going on in Spanish keeps the English answers and adds the new ones.
    contact = client.get(f"{ES}/contact")
    csrf = page_csrf(contact.get_data(as_text=True))
    assert _post(client, Step.CONTACT, answers, csrf).status_code == 303
    back = parse(client.get(f"{ES}/contact")).select_one("[data-language-switch]")["href"]
    assert back == "/request-appointment/contact"
    english_contact = client.get(back)
    assert parse(english_contact).html["lang"] == "en"
    assert _checked(english_contact)["phone"] == answers["phone"]
    assert _checked(english_contact)["language"] == answers["language"]


def test_the_switch_on_check_your_answers_keeps_the_way_back_to_it(client):
    _walk(client, valid_answers())
    change = parse(client.get(f"{ES}/check")).select_one("a[href*='change=check']")
    assert change["href"].startswith(f"{ES}/")
    opened = client.get(change["href"].split("#")[0])
    assert "Volver a sus respuestas" in _all_spanish(opened)
    # The English twin of a Change page is a Change page too: it leads back to the answers.
    switch = parse(opened).select_one("[data-language-switch]")["href"]
    assert switch == change["href"].split("#")[0].removeprefix("/es")
    assert "Back to your answers" in client.get(switch).get_data(as_text=True)


# A request made in Spanish ---------------------------------------------------------------


def test_a_request_sent_from_a_spanish_page_is_stored_and_mailed_as_spanish(client, db):
    answers = valid_answers()
    answers.pop("language")
    _walk(client, answers, until=Step.CONTACT)
    contact = parse(client.get(_url(Step.CONTACT)))
    # The preferred language starts on Spanish on a Spanish page.
    assert contact.select_one("input[name=language][value=spanish]").has_attr("checked")
    answers["language"] = "spanish"
    assert _send(client, answers).headers["Location"].startswith(f"{ES}/received/")
    db.rollback()
    row = db.scalars(select(AppointmentRequest)).one()
    assert (row.form_language, row.language) == ("es", "spanish")
    assert db.scalars(select(OutboxMessage)).one().locale == "es"


def test_the_person_may_choose_another_language_on_a_spanish_page(client, db):
    _send(client, valid_answers(language="english"))
    db.rollback()
    row = db.scalars(select(AppointmentRequest)).one()
    assert (row.form_language, row.language) == ("es", "english")


def test_an_english_journey_stores_english_and_suggests_no_language(client, db):
    answers = valid_answers()
    for step in STEPS:
        page = client.get(f"/request-appointment/{step.value}")
        if step is Step.CONTACT:
            assert not parse(page).select("input[name=language][checked]")
        client.post(
            f"/request-appointment/{step.value}",
            data={**step_data(step, answers), "csrf_token": page_csrf(page.get_data(as_text=True))},
        )
    check = client.get("/request-appointment/check")
    client.post("/request-appointment/check", data=form_tokens(check.get_data(as_text=True)))
    db.rollback()
    assert count_rows(db, "appointment_requests") == 1
    assert db.scalars(select(AppointmentRequest)).one().form_language == "en"
    assert db.scalars(select(OutboxMessage)).one().locale == "en"


def test_the_review_date_of_the_information_page_is_in_spanish(database_url):
    app = make_test_app(database_url, INFORMATION_REVIEWED="2026-10-05")
    text = _all_spanish(app.test_client().get("/es/"))
    assert "Última revisión de esta página: 5 de octubre de 2026" in text
