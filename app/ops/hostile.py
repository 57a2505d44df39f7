"""Requests no browser sends: answered with a 4xx and the site's error page, before any
view or database sees them.

- A NUL or other control character in the path or the query string: PostgreSQL refuses
  NUL in text, so such a value would otherwise turn into a 500 wherever it reaches a
  query (``/staff/requests/%00``). No address or filter of ours contains one.
- A ``Host`` that is no host name (a label over 63 characters, an empty label, over 255
  characters in all): Flask cannot bind its URL map to it, so no page, not even the error
  page, could build a link, and the answer was gunicorn's bare 500 without the site's
  headers. The host is replaced by ``invalid`` (a name reserved never to exist, RFC 6761)
  and the request answers the 400 page.
- A multipart part without a name (no browser sends one): Werkzeug files it under the key
  ``None``, and Flask-WTF's CSRF check, looking for its token among the keys, raised on
  it: a 500 on six endpoints, ``/staff/login`` among them. Such parts are dropped as the
  body is parsed, so every reader of ``request.form`` sees named fields only.
- A body that cannot be read to the end (a malformed chunked encoding, a connection that
  drops mid-body): the server raises as the body is read, in whichever code first touches
  ``request.form`` (the CSRF check, usually), which would otherwise be a 500. Reading it
  raises werkzeug's ClientDisconnected instead, a 400.
"""

from __future__ import annotations

from flask import Flask, Request, abort, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.formparser import FormDataParser

from app.common.validation import has_control_characters

# The longest a host name may be (RFC 1035: 255 octets), with room for ":port".
MAX_HOST_LENGTH = 255 + len(":65535")
_BAD_HOST = "intake.bad_host"


class _NamedPartsOnly(FormDataParser):
    """Drops nameless parts, and closes every file it made but does not hand over: those
    parts, and the files of a body that turned out malformed after a file part (Werkzeug
    then answers an empty form and leaves the files it had made open)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._made: list = []
        make_file = self.stream_factory

        def made_and_kept(*factory_args, **factory_kwargs):
            container = make_file(*factory_args, **factory_kwargs)
            self._made.append(container)
            return container

        self.stream_factory = made_and_kept

    def parse(self, stream, mimetype, content_length, options=None):
        try:
            stream, form, files = super().parse(stream, mimetype, content_length, options)
        except BaseException:
            self._close_made(keep=())
            raise
        if None in form:
            form = self.cls([(k, v) for k, v in form.items(multi=True) if k is not None])
        if None in files:
            files = self.cls([(k, v) for k, v in files.items(multi=True) if k is not None])
        # The request closes the files it holds at its end; these are the others.
        self._close_made(keep=[file.stream for _, file in files.items(multi=True)])
        return stream, form, files

    def _close_made(self, *, keep) -> None:
        kept = {id(container) for container in keep}
        for container in self._made:
            if id(container) not in kept:
                container.close()
        self._made.clear()


class NamedFieldsRequest(Request):
    """Flask's request, whose parsed body holds named fields only (see above)."""

    form_data_parser_class = _NamedPartsOnly


def init_app(app: Flask) -> None:
    app.request_class = NamedFieldsRequest
    app.before_request(_refuse_bad_hosts)
    app.before_request(_refuse_control_characters_in_the_address)


def guard_host(inner):
    """The WSGI layer that replaces a Host no URL can be built for (see above). Installed by
    app/serving's init_app, innermost: it judges the host the trusted-proxy fix leaves."""

    def bad_hosts_are_bad_requests(environ, start_response):
        host = environ.get("HTTP_HOST")
        if host is not None and not is_usable_host(host):
            environ["HTTP_HOST"] = environ["SERVER_NAME"] = "invalid"
            environ[_BAD_HOST] = True
        return inner(environ, start_response)

    return bad_hosts_are_bad_requests


def is_usable_host(host: str) -> bool:
    """Whether Werkzeug can bind the URL map to this Host (it encodes the name, without
    its port, with IDNA) and it is no longer than a host name may be."""
    if len(host) > MAX_HOST_LENGTH:
        return False
    try:
        host.partition(":")[0].encode("idna")
    except UnicodeError:
        return False
    return True


def _refuse_bad_hosts() -> None:
    if request.environ.get(_BAD_HOST):
        abort(400)


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
