"""Error pages in the site's look. They say what the person can do next, never what
went wrong inside."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.common.i18n import _l
from app.db import DATABASE_UNAVAILABLE, discard_session

# status: (title, what to say, what the person can do)
PAGES: dict[int, tuple[Any, Any]] = {
    400: (
        _l("Something was wrong with that request"),
        _l("We could not use what the browser sent. Go back, reload the page and try again."),
    ),
    403: (
        _l("You do not have access to this page"),
        _l("If you think you should, ask an intake administrator."),
    ),
    404: (_l("Page not found"), _l("Check the address, or go to the home page.")),
    405: (_l("That action is not available here"), _l("Go back and use the buttons on the page.")),
    408: (
        _l("That took too long to arrive"),
        _l("Go back, reload the page and try again."),
    ),
    413: (
        _l("That was too much to send"),
        _l(
            "The form sent more than we accept. Shorten the longest answer, such as the "
            "message, and send it again."
        ),
    ),
    414: (
        _l("That address is too long"),
        _l("Check the address, or go to the home page."),
    ),
    416: (
        _l("That part of the file is not available"),
        _l("Reload the page. If it still does not load, go to the home page."),
    ),
    429: (_l("Too many attempts"), _l("Please wait a few minutes and try again, or call us.")),
    500: (
        _l("Sorry, something went wrong on our side"),
        _l("Nothing you did caused this. Please try again in a few minutes, or call us."),
    ),
    503: (
        _l("Sorry, the service is unavailable"),
        _l("Please try again in a few minutes, or call us."),
    ),
}

CSRF_PAGE = (
    _l("Your form could not be sent"),
    _l(
        "The page was open for too long, or it was sent from somewhere other than this site, "
        "so nothing was saved. Go back, reload the page, and send the form again."
    ),
)


def page_for(status: int) -> tuple[Any, Any]:
    """The words of the page for any error status: its own, or those of its class (a
    client error's 400 words, a server error's 500 words), so every code has a page."""
    if status in PAGES:
        return PAGES[status]
    return PAGES[500] if status >= 500 else PAGES[400]


def render_error(status: int, *, title: Any = None, message: Any = None):
    default_title, default_message = page_for(status)
    return (
        render_template(
            "errors/error.html",
            status=status,
            title=title or default_title,
            message=message or default_message,
        ),
        status,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(_error: CSRFError):
        title, message = CSRF_PAGE
        return render_error(400, title=title, message=message)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        # Each code keeps its status and the headers that go with it (Allow on a 405,
        # Content-Range on a 416, Retry-After): only the body is ours. A code without a
        # page of its own used to become a 500: 93 of the 500s a fuzzing found were a
        # 416 for a bad Range on /static/ (issue 25).
        body, status = render_error(error.code)
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        return body, status, headers

    def _database_unavailable(_error: Exception):
        # The database is down, hung, read-only or out of connections: a temporary state,
        # so 503 (load balancers and clients may retry), and nothing half-done is kept.
        app.logger.error("database unavailable", exc_info=_error)
        discard_session()
        return render_error(503)

    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, _database_unavailable)

    @app.errorhandler(InternalServerError)
    def _server_error(_error: InternalServerError):
        # Whatever was half-done must not be committed by a later use of the session.
        discard_session()
        return render_error(500)
