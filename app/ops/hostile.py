"""Requests no browser sends: answered with a 4xx and the site's error page, before any
view or database sees them.

- A NUL or other control character in the path or the query string: PostgreSQL refuses
  NUL in text, so such a value would otherwise turn into a 500 wherever it reaches a
  query (``/staff/requests/%00``). No address or filter of ours contains one.
- A body that cannot be read to the end (a malformed chunked encoding, a connection that
  drops mid-body) or parsed: the server or the parser raises as the form is read, which
  would otherwise be a 500 in whichever view first touched ``request.form``.
"""

from __future__ import annotations

from flask import Flask, abort, request

from app.validation import has_control_characters

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask) -> None:
    app.before_request(_refuse_what_no_browser_sends)


def _refuse_what_no_browser_sends() -> None:
    if has_control_characters(request.path):
        abort(404)
    for key, value in request.args.items(multi=True):
        if has_control_characters(key) or has_control_characters(value):
            abort(400)
    if request.method in _BODY_METHODS:
        try:
            # Parsed here once (Flask keeps it for the view), so a failure is a 400.
            request.form  # noqa: B018
        except (OSError, ValueError):
            abort(400)
