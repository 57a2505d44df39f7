"""Error pages in the site's look, which reveal nothing about the code."""

import pytest
from flask import abort
from sqlalchemy.exc import OperationalError

from tests.conftest import make_test_app
from tests.serving.test_static_files import stylesheet

LEAKS = ("Traceback", "sqlalchemy", "werkzeug", 'File "', "app/", "Exception")


def app_with_failures(database_url):
    app = make_test_app(database_url, MAX_CONTENT_LENGTH=1024, MAX_FORM_MEMORY_SIZE=1024)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/test-abort/<int:status>")
    def _abort(status):
        abort(status)

    @app.get("/test-bug")
    def _bug():
        raise RuntimeError("secret internals")

    @app.get("/test-db-down")
    def _db_down():
        raise OperationalError("SELECT secret", {}, Exception("connection refused"))

    return app


@pytest.mark.parametrize(
    "status, title",
    [
        (400, "Something was wrong with that request"),
        (403, "You do not have access to this page"),
        (404, "Page not found"),
        (405, "That action is not available here"),
        (413, "That was too much to send"),
        (429, "Too many attempts"),
        (500, "Sorry, something went wrong on our side"),
        (503, "Sorry, the service is unavailable"),
    ],
)
def test_each_error_status_has_its_page(database_url, status, title):
    app = app_with_failures(database_url)
    response = app.test_client().get(f"/test-abort/{status}")
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert f"<h1>{title}</h1>" in text
    assert f'href="{stylesheet(app)}"' in text, "in the site's look"


def test_real_failures_get_their_pages(database_url):
    client = app_with_failures(database_url).test_client()
    cases = {
        404: client.get("/no-such-page"),
        405: client.delete("/request-appointment"),
        413: client.post("/request-appointment/consent", data={"message": "x" * 5000}),
        500: client.get("/test-bug"),
        503: client.get("/test-db-down"),
        # A post another site's page made: Flask-WTF's refusal page.
        400: client.post(
            "/request-appointment/who", data={}, headers={"Sec-Fetch-Site": "cross-site"}
        ),
    }
    for status, response in cases.items():
        assert response.status_code == status
        text = response.get_data(as_text=True)
        for leak in LEAKS + ("secret",):
            assert leak not in text, f"{status} page shows {leak!r}"
    assert cases[405].headers["Allow"]
