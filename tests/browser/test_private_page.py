"""The private page in a real browser at 375 px (issue 29): the link from the confirmation
e-mail (a real SMTP server, aiosmtpd), the date of birth in a new browser, where the
request stands, a new phone number, records sent with the camera input's form (with the
script: one file at a time with progress; without: the plain form), and a signed release;
in English and in Spanish, with axe-core on every state."""

from __future__ import annotations

import re

import pytest

from app.mail.worker import Worker
from tests.browser.staff_support import StaffAccount, create_staff, sign_in
from tests.browser.support import (
    PHONE,
    assert_accessible,
    docs_screenshot,
    docs_screenshot_path,
    horizontal_overflow,
    send_from_check_answers,
    walk_to_check_answers,
)
from tests.conftest import make_test_app
from tests.support import records
from tests.support.forms import valid_answers
from tests.support.live_server import start_live_server
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.browser

LINK = re.compile(r"(http://127\.0\.0\.1:\d+(?:/es)?/your-request/open\?key=[a-z2-7]{32})")


@pytest.fixture(scope="module")
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def records_server(chromium_path, tmp_path_factory, smtp_server, clamd_server):
    """A server of its own: with an SMTP server for the e-mails and clamd for the files."""
    server = start_live_server(
        tmp_path_factory.mktemp("private-page"),
        extra_env={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_server.port),
            "SMTP_STARTTLS": "false",
            "CLAMD_ADDRESS": clamd_server.address,
        },
    )
    yield server
    server.stop()


@pytest.fixture
def open_page(browser, records_server):
    contexts = []

    def opened(**options):
        context = browser.new_context(base_url=records_server.url, **{**PHONE, **options})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield opened
    for context in contexts:
        context.close()
    assert "Traceback" not in records_server.log_tail(200)


def _deliver(server, smtp_server, count: int) -> str:
    """Run the outbox once, as the worker would, and return the newest e-mail's text."""
    app = make_test_app(
        server.database_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_server.port,
        SMTP_STARTTLS=False,
        PUBLIC_SITE_URL=server.env["PUBLIC_SITE_URL"],
    )
    with app.app_context():
        Worker(app).deliver_due()
    app.extensions["db_engine"].dispose()
    message = smtp_server.wait_for(count)[-1].message
    return message.get_body(("plain",)).get_content()


WORDS = {
    "en": {
        "prefix": "",
        "send": "Send the request",
        "open": "Open your request's page",
        "continue": "Continue",
        "check": "Confirm the patient's date of birth",
        "wrong": "does not match our records",
        "status": "Your request",
        "received": "We received your request",
        "contact": "How we reach you",
        "save": "Save",
        "saved": "Thank you. We have your new contact details",
        "records": "Send medical records",
        "send_files": "Send",
        "release": "Let us get your records",
        "sign": "Sign the authorization",
        "signed": "Your signed authorization",
        "kind": "Pathology report (biopsy results)",
    },
    "es": {
        "prefix": "/es",
        "send": "Enviar la solicitud",
        "open": "Abrir la página de su solicitud",
        "continue": "Continuar",
        "check": "Confirme la fecha de nacimiento del paciente",
        "wrong": "no coincide con nuestros registros",
        "status": "Su solicitud",
        "received": "Recibimos su solicitud",
        "contact": "Cómo nos comunicamos con usted",
        "save": "Guardar",
        "saved": "Gracias. Tenemos sus nuevos datos de contacto",
        "records": "Enviar expedientes médicos",
        "send_files": "Enviar",
        "release": "Permítanos obtener sus expedientes",
        "sign": "Firmar la autorización",
        "signed": "Su autorización firmada",
        "kind": "Informe de patología (resultados de la biopsia)",
    },
}


def _fits_and_accessible(page, state: str, shot: str | None = None) -> None:
    assert horizontal_overflow(page) <= 0, f"{state}: the page scrolls sideways"
    assert_accessible(page, state)
    if shot:
        docs_screenshot(page, f"{shot}-375")


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_private_link_from_the_e_mail_at_375_px(
    open_page, records_server, smtp_server, language, tmp_path
):
    words = WORDS[language]
    prefix = words["prefix"]
    sender = open_page(locale="es-US" if language == "es" else "en-US")
    last_name = f"Privada-{language}"
    walk_to_check_answers(
        sender,
        valid_answers(last_name=last_name, email=f"maria.{language}@example.com"),
        start=f"{prefix}/request-appointment/who",
    ) if language == "en" else _walk_spanish(sender, last_name)
    with sender.expect_navigation():
        sender.get_by_role("button", name=words["send"]).click()
    assert sender.get_by_role("button", name=words["open"]).is_visible()

    text = _deliver(records_server, smtp_server, len(smtp_server.received) + 1)
    link = LINK.search(text).group(1)
    assert ("/es/your-request" in link) == (language == "es")

    # A new browser: the date of birth first.
    page = open_page(locale="es-US" if language == "es" else "en-US")
    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == words["check"]
    assert "key=" not in page.url
    _fits_and_accessible(page, f"{language}: date of birth", f"private-{language}-check")
    for box, value in (("dob_month", "3"), ("dob_day", "28"), ("dob_year", "1965")):
        page.fill(f"#{box}", value)
    with page.expect_navigation():
        page.get_by_role("button", name=words["continue"]).click()
    assert words["wrong"] in page.locator(".error-summary").inner_text()
    _fits_and_accessible(page, f"{language}: wrong date of birth")
    page.fill("#dob_day", "27")
    with page.expect_navigation():
        page.get_by_role("button", name=words["continue"]).click()
    assert page.get_by_role("heading", level=1).inner_text() == words["status"]
    assert words["received"] in page.locator(".standing").inner_text()
    _fits_and_accessible(page, f"{language}: where it stands", f"private-{language}-status")

    # A new phone number.
    page.get_by_role("link", name=words["contact"]).first.click()
    page.fill("#phone", "727 555 0199")
    with page.expect_navigation():
        page.get_by_role("button", name=words["save"]).click()
    assert words["saved"] in page.locator("[data-saved]").inner_text()

    # Records, with the script: progress, then back to the page.
    page.get_by_role("link", name=words["records"]).first.click()
    _fits_and_accessible(page, f"{language}: send records", f"private-{language}-records")
    report = tmp_path / "report.pdf"
    report.write_bytes(records.pdf())
    page.get_by_label(words["kind"]).check()
    page.set_input_files("#files", str(report))
    with page.expect_navigation():
        page.get_by_role("button", name=words["send_files"], exact=True).click()
    assert "saved=records" in page.url
    assert page.locator("[data-sent] li").count() == 1

    # A release, signed.
    page.get_by_role("link", name=words["release"]).first.click()
    _fits_and_accessible(page, f"{language}: release", f"private-{language}-release")
    page.check("#holder_kind_1-0")
    page.fill("#holder_name_1", "Bayside Oncology")
    page.fill("#holder_city_1", "Clearwater, FL")
    page.check("#records-0")
    page.check("#signer-0")
    page.fill("#signature", "Maria " + last_name)
    example = page.locator("#signed_month-hint").inner_text()
    month, day, year = re.findall(r"\d+", example)[-3:]
    page.fill("#signed_month", month)
    page.fill("#signed_day", day)
    page.fill("#signed_year", year)
    page.check("#agree")
    with page.expect_navigation():
        page.get_by_role("button", name=words["sign"]).click()
    assert page.get_by_role("heading", level=1).inner_text() == words["signed"]
    assert "Bayside Oncology" in page.locator("[data-release-text]").inner_text()
    _fits_and_accessible(page, f"{language}: signed release")


def _walk_spanish(page, last_name: str) -> None:
    from tests.support.forms import valid_answers as answers

    walk = answers(last_name=last_name, email="maria.es@example.com", language="spanish")
    page.goto("/es/request-appointment/who")
    from tests.browser.support import fill_step

    for _ in range(10):
        if page.url.endswith("/es/request-appointment/check"):
            return
        fill_step(page, walk)
        with page.expect_navigation():
            page.get_by_role("button", name="Continuar").click()
    raise AssertionError("never reached the answers page")


def test_without_javascript_the_plain_form_sends_and_says_what_was_refused(
    open_page, records_server, smtp_server, tmp_path
):
    sender = open_page()
    walk_to_check_answers(sender, valid_answers(last_name="Sin-Script", email="nojs@example.com"))
    send_from_check_answers(sender)
    link = LINK.search(_deliver(records_server, smtp_server, len(smtp_server.received) + 1)).group(
        1
    )

    # The site's own script blocked: the page as it is without JavaScript (the browser's
    # JavaScript stays on, so axe-core can run).
    page = open_page()
    page.route("**/static/js/*.js", lambda route: route.abort())
    page.goto(link)
    for box, value in (("dob_month", "3"), ("dob_day", "27"), ("dob_year", "1965")):
        page.fill(f"#{box}", value)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    page.goto("/your-request/records")
    # Sent with nothing chosen: the summary says what to do.
    with page.expect_navigation():
        page.get_by_role("button", name="Send", exact=True).click()
    assert "Select what you are sending" in page.locator(".error-summary").inner_text()
    _fits_and_accessible(page, "no script: upload errors", "private-en-records-errors")
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(records.pdf(password="secret"))
    card = tmp_path / "card.heic"
    card.write_bytes(records.heic())
    page.get_by_label("Insurance card, front").check()
    page.set_input_files("#files", [str(locked), str(card)])
    with page.expect_navigation():
        page.get_by_role("button", name="Send", exact=True).click()
    outcomes = page.locator("[data-outcomes]").inner_text()
    assert "locked.pdf" in outcomes and "protected with a password" in outcomes
    assert "card.heic" in outcomes
    _fits_and_accessible(page, "no script: one file refused", "private-en-records-refused")


def test_staff_see_the_documents_and_open_a_preview_at_1280_px(
    browser, open_page, records_server, smtp_server, tmp_path
):
    sender = open_page()
    walk_to_check_answers(sender, valid_answers(last_name="Documentos", email="docs@example.com"))
    reference = send_from_check_answers(sender).replace("-", "")
    with sender.expect_navigation():
        sender.get_by_role("button", name="Open your request's page").click()
    sender.goto("/your-request/records")
    photo = tmp_path / "front.jpg"
    photo.write_bytes(records.jpeg_with_gps((640, 400)))
    sender.get_by_label("Insurance card, front").check()
    sender.set_input_files("#photo", str(photo))
    with sender.expect_navigation():
        sender.get_by_role("button", name="Send", exact=True).click()

    account = StaffAccount(email="records@example.org", name="Rita Records")
    create_staff(records_server, account)
    page = open_page(viewport={"width": 1280, "height": 900}, is_mobile=False, has_touch=False,
                     device_scale_factor=1)  # fmt: skip
    sign_in(page, account.email, account.password)
    page.goto("/staff/queue")
    assert page.locator("[data-new-documents]").count() >= 1
    page.goto(f"/staff/requests/{reference}")
    row = page.locator("[data-documents] tbody tr").first
    assert "Insurance card, front" in row.inner_text() and "Clean" in row.inner_text()
    _fits_and_accessible(page, "staff: the person's documents")
    page.locator("[data-from-person]").screenshot(
        path=str(docs_screenshot_path("staff-request-documents-1280"))
    )
    with page.expect_popup() as popup:
        row.get_by_role("link", name="Preview").click()
    preview = popup.value
    preview.wait_for_load_state()
    assert preview.evaluate("document.contentType") == "image/jpeg"
