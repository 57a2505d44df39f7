"""Spanish, end to end (issue 17): the catalog is complete and current, every public page
and state in Spanish shows no English that has a translation, each page names its language
and its twin, the cache never hands one language's page to the other's visitor, and staff
addresses do not exist under /es/."""

from __future__ import annotations

import subprocess
import sys

import pytest
from babel.messages.pofile import read_po
from flask import request
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField

from app.common.extensions import csrf
from app.common.validation import TrimmedForm
from app.serving.language import LANGUAGE_KEY
from tests.conftest import make_test_app
from tests.serving.test_static_files import stylesheet
from tests.support.html import parse
from tests.support.spanish import (
    POT,
    ROOT,
    SPANISH_PO,
    confirmation_in,
    english_fragments,
    english_left_in,
    read_catalog,
    readable_text,
    singular,
)

# Every public page without a parameter (the journey's first step among them, served from
# the blank-form cache); the journey's other steps and states are walked in Spanish by
# test_spanish_journey.py.
PUBLIC_PAGES = ["/", "/request-appointment"]
# A sentence only the Spanish page of each has.
SPANISH_ONLY = {"/": "Cáncer de seno metastásico", "/request-appointment": "¿Quién llena este"}


# The catalog ------------------------------------------------------------------------------


def test_every_message_has_spanish_and_none_is_fuzzy():
    untranslated, fuzzy = [], []
    for message in read_catalog(SPANISH_PO):
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(singular(message.id))
        if message.fuzzy:
            fuzzy.append(singular(message.id))
    assert not untranslated, f"not translated (edit the .po, docs/translations.md): {untranslated}"
    assert not fuzzy, f"marked fuzzy (check the Spanish, then remove the flag): {fuzzy}"


def test_the_catalog_is_current_with_the_code(tmp_path):
    """The .pot holds exactly what the code marks today, and the Spanish .po exactly the
    .pot's messages: a string marked (or changed) without `make catalog-update` fails."""
    fresh = tmp_path / "messages.pot"
    subprocess.run(  # noqa: S603 (our own tool, fixed arguments)
        [
            str(ROOT / ".venv" / "bin" / "pybabel")
            if (ROOT / ".venv" / "bin" / "pybabel").exists()
            else sys.executable.replace("python", "pybabel"),
            "extract",
            "--no-location",
            "--omit-header",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "_n:1,2",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with fresh.open("rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    stored = {m.id for m in read_catalog(POT) if m.id}
    spanish = {m.id for m in read_catalog(SPANISH_PO) if m.id}
    assert extracted - stored == set(), "marked in the code, missing from messages.pot"
    assert stored - extracted == set(), "in messages.pot, no longer in the code"
    assert spanish == stored, "the Spanish .po differs from messages.pot: make catalog-update"


def test_the_english_check_finds_english():
    # The walk below is only as good as this: it must see an untranslated sentence.
    page = "<p>Skip to main content</p><a data-language-switch>English</a>"
    assert english_left_in(readable_text(page)) == ["Skip to main content"]
    assert "English" in english_fragments(), "the switch is left out, not the word"


# Each public page in Spanish ---------------------------------------------------------------


def _spanish_page(response) -> str:
    html = response.get_data(as_text=True)
    assert parse(response).html["lang"] == "es"
    return html


def test_the_information_page_is_all_spanish(client):
    response = client.get("/es/")
    assert response.status_code == 200
    text = readable_text(_spanish_page(response))
    assert english_left_in(text) == []
    assert "Cáncer de seno metastásico" in text
    assert "si necesita un intérprete" in text


@pytest.fixture
def failing_app(database_url):
    """The request form's address, made to fail on demand (?fail=500, 503)."""
    app = make_test_app(database_url, MAX_CONTENT_LENGTH=1024, MAX_FORM_MEMORY_SIZE=1024)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.before_request
    def _fail_on_demand():
        fail = request.args.get("fail")
        if fail == "500":
            raise RuntimeError("a bug")
        if fail == "503":
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    return app


def _error_pages(app) -> dict[int, str]:
    client = app.test_client()
    pages = {
        404: client.get("/es/no-such-page"),
        405: client.delete("/es/"),
        413: client.post("/es/request-appointment/who", data={"message": "x" * 5000}),
        500: client.get("/es/request-appointment?fail=500"),
        503: client.get("/es/request-appointment?fail=503"),
        # A post another site's page made.
        400: client.post(
            "/es/request-appointment/who", data={}, headers={"Sec-Fetch-Site": "cross-site"}
        ),
    }
    return {status: response for status, response in pages.items()}


def test_every_error_page_is_all_spanish(failing_app):
    for status, response in _error_pages(failing_app).items():
        assert response.status_code == status
        text = readable_text(_spanish_page(response))
        assert english_left_in(text) == [], status
        assert "Ir a la página principal" in text, status


def test_the_too_many_attempts_page_is_spanish(database_url):
    # The journey's own limits (sending, beginning) are in test_spanish_journey.py; this
    # is the page itself, from a first step begun too often.
    app = make_test_app(database_url, DRAFT_RATE_LIMIT="1 per hour")
    statuses = []
    for _ in range(2):
        client = app.test_client()
        client.get("/es/request-appointment")
        # The first page carries no token: its post is checked by the browser's word.
        response = client.post(
            "/es/request-appointment/who",
            data={"submitter": "patient"},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        statuses.append(response.status_code)
    assert statuses == [303, 429]
    text = readable_text(_spanish_page(response))
    assert "Demasiados intentos" in text
    assert english_left_in(text) == []


def test_the_same_error_pages_stay_english_in_english(failing_app):
    client = failing_app.test_client()
    response = client.get("/no-such-page")
    assert parse(response).html["lang"] == "en"
    assert "Page not found" in response.get_data(as_text=True)


def test_the_confirmation_email_is_all_spanish():
    message = confirmation_in("es")
    assert message["Subject"] == "Recibimos su solicitud de cita (referencia K7QM-4XPD-9RTA)"
    assert message["Content-Language"] == "es"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "2 días hábiles" in text
    assert english_left_in(" ".join(text.split())) == []
    assert english_left_in(readable_text(html)) == []


def test_vocabulary_labels_and_wtforms_messages_are_spanish_on_a_spanish_page(app):
    from app.vocabulary import Insurance, MetastasisSite, UsState

    class AgeForm(TrimmedForm):
        class Meta:
            csrf = False

        age = IntegerField("Age")

    with app.test_request_context("/", environ_base={LANGUAGE_KEY: "es"}):
        assert MetastasisSite.LUNGS.label == "Pulmones"
        assert UsState.NY.label == "Nueva York"
        assert str(dict(Insurance.choices())["none"]) == "Sin seguro / pago por mi cuenta"
        form = AgeForm(formdata=MultiDict({"age": "treinta"}))
        form.validate()
        assert form.age.errors == ["No es un valor entero válido."]
    with app.test_request_context("/"):
        assert MetastasisSite.LUNGS.label == "Lungs"
    # Outside any request (the command line, the e-mail worker, FHIR): English.
    assert MetastasisSite.LUNGS.label == "Lungs"
    with app.app_context():
        assert MetastasisSite.LUNGS.label == "Lungs"
    assert isinstance(MetastasisSite.LUNGS.label, str)
    assert csrf is not None


def test_a_business_days_promise_and_a_date_in_spanish(app):
    from datetime import date

    from app.templating import business_days, long_date

    with app.test_request_context("/", environ_base={LANGUAGE_KEY: "es"}):
        assert business_days(2) == "2 días hábiles"
        assert business_days(1) == "1 día hábil"
        assert long_date(date(2026, 12, 3)) == "3 de diciembre de 2026"
    with app.test_request_context("/"):
        assert business_days(2) == "2 business days"
        assert long_date(date(2026, 12, 3)) == "December 3, 2026"


# Language, twin, switch ------------------------------------------------------------------


@pytest.mark.parametrize("path", PUBLIC_PAGES + ["/no-such-page"])
def test_each_public_page_names_its_language_and_links_its_twin(client, path):
    for language, prefix, other, other_prefix in (("en", "", "es", "/es"), ("es", "/es", "en", "")):
        response = client.get(prefix + path)
        soup = parse(response)
        assert soup.html["lang"] == language, prefix + path
        alternates = {
            link["hreflang"]: link["href"] for link in soup.select("link[rel=alternate][hreflang]")
        }
        assert alternates == {"en": path, "es": "/es" + path, "x-default": path}, prefix + path
        switch = soup.select("[data-language-switch]")
        assert len(switch) == 1
        assert switch[0]["href"] == other_prefix + path
        assert switch[0]["lang"] == other
        assert switch[0].get_text(strip=True) == {"en": "English", "es": "Español"}[other]


def test_a_page_for_one_visitor_keeps_its_query_in_the_switch(failing_app):
    # Not a shared page (an error): the switch goes to the same address, query and all.
    response = failing_app.test_client().get("/es/request-appointment?fail=500")
    assert parse(response).select_one("[data-language-switch]")["href"] == (
        "/request-appointment?fail=500"
    )


@pytest.mark.parametrize("path", ["//evil.example/x", "/es//evil.example/x", "///evil.example"])
def test_a_made_up_address_never_links_to_another_site(client, path):
    # As a server hands it over: the test client would read "//host" as a host.
    soup = parse(client.get("/", environ_overrides={"PATH_INFO": path}))
    links = [tag["href"] for tag in soup.select("[data-language-switch], link[hreflang]")]
    assert links and all(not link.startswith("//") for link in links), links


def test_shared_pages_carry_no_query_string_in_their_links(client):
    # The query string is not part of a cached page's key: a campaign link's parameters
    # must not end up in the copy everyone else gets.
    for path in PUBLIC_PAGES:
        body = client.get(path + "?utm_source=leaflet").get_data(as_text=True)
        assert "utm_source" not in body, path


def test_links_on_a_spanish_page_stay_spanish_and_static_files_are_shared(app, client):
    soup = parse(client.get("/es/"))
    assert soup.select_one("a.button")["href"] == "/es/request-appointment"
    assert soup.select_one("link[rel=stylesheet]")["href"] == stylesheet(app)


def test_spanish_suggestion_is_hidden_in_the_shared_english_page(client):
    soup = parse(client.get("/"))
    suggestion = soup.select_one("[data-language-suggestion]")
    assert suggestion is not None and suggestion.has_attr("hidden")
    assert suggestion["lang"] == "es"
    assert suggestion.a["href"] == "/es/"
    assert client.get("/").status_code == 200  # never a redirect, whatever it asks for
    asked = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert asked.status_code == 200 and parse(asked).html["lang"] == "en"
    assert parse(client.get("/es/")).select_one("[data-language-suggestion]") is None


@pytest.mark.parametrize(
    "path", ["/es/staff/login", "/es/staff/queue", "/es/staff/", "/es/staff", "/es/healthz"]
)
def test_staff_and_ops_addresses_do_not_exist_in_spanish(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert parse(response).html["lang"] == "es"


def test_english_staff_pages_have_no_language_switch(client):
    soup = parse(client.get("/staff/login"))
    assert soup.html["lang"] == "en"
    assert not soup.select("[data-language-switch]")
    assert not soup.select("link[rel=alternate]")


# The cache keeps the languages apart --------------------------------------------------------


@pytest.mark.parametrize("first", ["en", "es"])
@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_one_languages_visit_never_serves_the_other_languages_page(app, first, path):
    assert not app.debug and not app.jinja_env.auto_reload, "the cache is on"
    order = [first, "es" if first == "en" else "en"]
    seen = {}
    for round_ in range(3):
        for language in order:
            visitor = app.test_client()
            response = visitor.get(("/es" if language == "es" else "") + path)
            assert response.status_code == 200
            assert parse(response).html["lang"] == language, (round_, language, path)
            seen.setdefault(language, readable_text(response.get_data(as_text=True)))
    assert english_left_in(seen["es"]) == []
    assert SPANISH_ONLY[path] in seen["es"]
    assert SPANISH_ONLY[path] not in seen["en"]
    assert "Who is filling in this form?" not in seen["es"]


def test_an_english_etag_does_not_open_the_spanish_page(app):
    english = app.test_client().get("/")
    spanish = app.test_client().get("/es/")
    assert english.headers["ETag"] != spanish.headers["ETag"]
    again = app.test_client().get("/es/", headers={"If-None-Match": english.headers["ETag"]})
    assert again.status_code == 200
    assert parse(again).html["lang"] == "es"


# A request made in Spanish: test_spanish_journey.py.
