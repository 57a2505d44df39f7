"""Staff pages stay in English but show the language each request was made in, and the
queue filters on it (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.html import parse, visible_text
from tests.support.staff import make_request, signed_in_client


def references_on(response) -> list[str]:
    return [tr["data-reference"] for tr in parse(response).select("tr[data-reference]")]


@pytest.fixture
def two_requests(db):
    start = datetime.now(UTC) - timedelta(days=1)
    english = make_request(db, submitted_at=start)
    spanish = make_request(db, submitted_at=start + timedelta(hours=1), form_language="es")
    return english, spanish


def test_the_queue_marks_and_filters_requests_made_in_spanish(app, db, two_requests):
    english, spanish = two_requests
    client, _ = signed_in_client(app, db)
    everything = client.get("/staff/queue")
    assert references_on(everything) == [english.reference, spanish.reference]
    marked = parse(everything).select("tr[data-reference] [data-form-language=es]")
    assert [tag.find_parent("tr")["data-reference"] for tag in marked] == [spanish.reference]
    assert "Form in Spanish" in visible_text(everything)

    assert references_on(client.get("/staff/queue?form_language=es")) == [spanish.reference]
    assert references_on(client.get("/staff/queue?form_language=en")) == [english.reference]


@pytest.mark.parametrize("value", ["fr", "ES", "", "es'--", "x" * 500])
def test_a_bad_form_language_filter_is_a_message_not_an_error(app, db, two_requests, value):
    client, _ = signed_in_client(app, db)
    response = client.get("/staff/queue", query_string={"form_language": value})
    assert response.status_code == 200
    shown = references_on(response)
    if value == "":
        assert len(shown) == 2
    else:
        # Unknown values fall back to the default view, and the form says what was wrong.
        assert len(shown) == 2
        assert parse(response).select_one("[data-error-summary], .error-summary") is not None


def test_the_request_page_says_which_language_the_form_was_sent_in(app, db, two_requests):
    english, spanish = two_requests
    client, _ = signed_in_client(app, db)
    page = parse(client.get(f"/staff/requests/{spanish.reference}"))
    assert page.html["lang"] == "en"
    assert page.select_one("[data-form-language]").get_text(strip=True) == (
        "Made on the Spanish page"
    )
    page = parse(client.get(f"/staff/requests/{english.reference}"))
    assert page.select_one("[data-form-language]").get_text(strip=True) == (
        "Made on the English page"
    )


def test_the_filter_travels_to_the_request_page_and_back(app, db, two_requests):
    _, spanish = two_requests
    client, _ = signed_in_client(app, db)
    queue = parse(client.get("/staff/queue?form_language=es"))
    link = queue.select_one(f"tr[data-reference='{spanish.reference}'] a")["href"]
    assert "form_language=es" in link
    back = parse(client.get(link)).select_one("a.back-link")["href"]
    assert "form_language=es" in back
