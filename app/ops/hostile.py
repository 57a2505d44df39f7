"""Requests no browser sends: answered with a 4xx and the site's error page, before any
view or database sees them.

- A NUL or other control character in the path or the query string: PostgreSQL refuses
  NUL in text, so such a value would otherwise turn into a 500 wherever it reaches a
  query (``/staff/requests/%00``). No address or filter of ours contains one.
- A body that cannot be read to the end (a malformed chunked encoding, a connection that
  drops mid-body): the server raises as the body is read, in whichever code first touches
  ``request.form`` (the CSRF check, usually), which would otherwise be a 500. Reading it
  raises werkzeug's ClientDisconnected instead, a 400.
"""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.exceptions import ClientDisconnected

from app.common.validation import has_control_characters


def init_app(app: Flask) -> None:
    app.before_request(_refuse_control_characters_in_the_address)


def guard_body(inner):
    """The WSGI layer that turns a body read failure into a 400. Installed by
    app/serving's init_app, innermost: the body stream it wraps is the one Flask reads."""

    def body_errors_are_bad_requests(environ, start_response):
        stream = environ.get("wsgi.input")
        if stream is not None and _may_have_a_body(environ):
            environ["wsgi.input"] = _BodyStream(stream)
        return inner(environ, start_response)

    return body_errors_are_bad_requests


def _may_have_a_body(environ) -> bool:
    """A request with neither a length nor a chunked body has nothing to read (most
    GETs): the server gives an empty stream, so there is no read to go wrong."""
    length = environ.get("CONTENT_LENGTH")
    return bool(length and length != "0") or "HTTP_TRANSFER_ENCODING" in environ


def _refuse_control_characters_in_the_address() -> None:
    if has_control_characters(request.path):
        abort(404)
    if not request.environ.get("QUERY_STRING"):
        return  # no query string, no arguments to parse
    for key, value in request.args.items(multi=True):
        if has_control_characters(key) or has_control_characters(value):
            abort(400)


# Reading the body fails only because of what the client sent or its connection: gunicorn
# raises its own ParseException subclasses (InvalidChunkSize, ChunkMissingTerminator...)
# for a malformed chunked body, OSError subclasses for a body cut short.
_BODY_ERRORS = (Exception,)


class _BodyStream:
    """The request body, with the server's errors on a malformed body turned into a 400."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, *args):
        try:
            return self._stream.read(*args)
        except _BODY_ERRORS as error:
            raise ClientDisconnected() from error

    def readline(self, *args):
        try:
            return self._stream.readline(*args)
        except _BODY_ERRORS as error:
            raise ClientDisconnected() from error

    def __iter__(self):
        while line := self.readline():
            yield line
