"""Inputs an anonymous client can send that used to end in a 500 (issue 25): each gets a
4xx page in the site's look, with the site's headers, in English and in Spanish."""

from __future__ import annotations

import gc
import re

import pytest
from flask import abort
from werkzeug.exceptions import default_exceptions

from app.error_pages import page_for, render_error
from app.models import StaffRole
from app.serving.language import LANGUAGE_KEY
from tests.conftest import make_test_app
from tests.support.forms import SEND_URL, open_form
from tests.support.staff import make_request, signed_in_client

# The stylesheet under its fingerprinted name (app/serving/static_files.py), as every page links it.
STYLESHEET = re.compile(r'href="/static/css/site\.[0-9a-f]{12}\.css"')

# A part without a name (Content-Disposition: form-data, and nothing else): no browser
# sends one; Werkzeug files it under the key None.
NAMELESS_PART = b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n"
EVERY_ERROR_STATUS = sorted(code for code in default_exceptions if code >= 400)


@pytest.fixture
def quiet_app(app):
    # What production does with an exception: the 500 page, not a traceback in the test.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def post_routes(app) -> list[str]:
    """Every POST address of the app without parameters, /staff/login among them."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and not rule.arguments
    )


def test_a_multipart_part_without_a_name_is_no_server_error(quiet_app):
    client = quiet_app.test_client()
    routes = post_routes(quiet_app)
    assert "/staff/login" in routes and SEND_URL in routes
    for path in routes:
        response = client.post(
            path, data=NAMELESS_PART, content_type="multipart/form-data; boundary=b"
        )
        assert response.status_code < 500, (path, response.status_code)


def test_a_nul_form_token_on_the_send_is_no_server_error(quiet_app):
    client = quiet_app.test_client()
    tokens = open_form(client)
    response = client.post(SEND_URL, data={**tokens, "form_token": "\x00"})
    assert response.status_code == 303
    # The browser's own answers page again: nothing was stored under the made-up token.
    assert response.headers["Location"].endswith("/request-appointment/check")
    assert client.post(SEND_URL, data=tokens).status_code == 303


@pytest.mark.parametrize("path", ["/static/css/site.css", "/favicon.ico", "/es/favicon.ico"])
@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=99999999-",
        "bytes=99999999999999999999999999999-",
        "bytes=-0",
        "bytes=5-1",
        "bytes=abc",
        "bytes=\x00-1",
        "pages=1-2",
        "bytes=" + ",".join(["0-1"] * 300),
        "bytes=0-1," * 2000,
    ],
)
def test_a_bad_or_huge_range_is_a_416_or_the_whole_file(quiet_app, path, range_header):
    response = quiet_app.test_client().get(path, headers={"Range": range_header})
    with response:
        assert response.status_code in (200, 206, 416), response.status_code
        if response.status_code == 416:
            text = response.get_data(as_text=True)
            assert "<title>" in text and STYLESHEET.search(text)
            assert response.headers["Content-Security-Policy"]
            assert response.headers["Content-Range"].startswith("bytes */")


def test_a_host_over_255_characters_gets_the_400_page_with_the_sites_headers(quiet_app):
    client = quiet_app.test_client()
    for host in ["a" * 300, "a" * 64 + ".example.org", "a.." + "b" * 10, "x." * 130 + "org"]:
        for path in ["/", "/es/", "/request-appointment", "/staff/login", "/no-such-page"]:
            response = client.get(path, headers={"Host": host})
            assert response.status_code == 400, (host, path, response.status_code)
            text = response.get_data(as_text=True)
            assert "Something was wrong with that request" in text or "/es/" in path
            assert host not in text, "the host is not echoed"
            assert response.headers["Content-Security-Policy"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    # A good host of 255 characters is served.
    good = ".".join(["a" * 63] * 4)[:250]
    assert client.get("/", headers={"Host": good}).status_code == 200


def test_every_http_error_code_answers_its_own_status_with_a_page(database_url):
    app = make_test_app(database_url)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/test-abort/<int:status>")
    def _abort(status):
        abort(status)

    client = app.test_client()
    for status in EVERY_ERROR_STATUS:
        response = client.get(f"/test-abort/{status}")
        assert response.status_code == status
        text = response.get_data(as_text=True)
        title, _ = page_for(status)
        assert f"<h1>{title}</h1>" in text, status
        assert STYLESHEET.search(text), "in the site's look"


def test_every_http_error_code_has_its_page_in_spanish(database_url):
    app = make_test_app(database_url)
    for status in EVERY_ERROR_STATUS:
        title, message = page_for(status)
        with app.test_request_context("/", environ_base={LANGUAGE_KEY: "en"}):
            english = render_error(status)[0]
            english_title = str(title)
        with app.test_request_context("/", environ_base={LANGUAGE_KEY: "es"}):
            spanish = render_error(status)[0]
            spanish_title = str(title)
        assert spanish_title != english_title, f"{status}: {english_title!r} is not translated"
        assert f"<h1>{spanish_title}</h1>" in spanish
        assert english_title not in spanish
        assert f"<h1>{english_title}</h1>" in english


def test_a_body_malformed_after_a_file_part_leaves_no_file_open(quiet_app):
    """Werkzeug answers such a body with an empty form and used to leave the file it had
    made for the first part open (a ResourceWarning, an error in this suite)."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nx\r\n'
        b'--b\r\nContent-Disposition: form-data; filename="b.txt"\r\n\r\ny\r\n'
        b"--b\r\n\r\nno headers\r\n--b--\r\n"
    )
    client = quiet_app.test_client()
    for path in post_routes(quiet_app):
        response = client.post(path, data=body, content_type="multipart/form-data; boundary=b")
        assert response.status_code < 500, (path, response.status_code)
    gc.collect()  # an open file left behind warns here, and the warning fails the test


@pytest.mark.parametrize("row_id", ["2147483648", "9223372036854775808", "1" * 40, "0"])
def test_a_row_id_out_of_range_is_a_404_on_every_route_that_takes_one(app, db, row_id):
    """A row id is an Integer key: a longer number overflowed the SQLite driver (a 500)
    or PostgreSQL's integer, and 0 names no row."""
    client, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    reference = make_request(db).reference
    with_ids = [r for r in app.url_map.iter_rules() if "<id:" in r.rule]
    assert len(with_ids) >= 10
    for rule in with_ids:
        path = rule.rule.replace("<reference>", reference)
        path = re.sub(r"<id:[a-z_]+>", row_id, path)
        method = "GET" if "GET" in rule.methods else "POST"
        with client.open(path, method=method) as response:
            assert response.status_code == 404, (path, response.status_code)
