"""Answers for the information page without going through Flask each time.

The information page is the same for every visitor: its bytes and headers depend only on
the code, the configuration and how the request reached us (scheme and path prefix).
The first request of each kind goes through Flask as usual, and the complete answer Flask
gave (status, every header, the body) is kept; later requests of that kind get a copy, with
a request id of their own. A browser that sends back the page's ETag gets the 304 Flask gave
for that, kept the same way. Anything else (another method or path, a response that sets a
cookie or varies by cookie, debug mode or template auto-reload) goes to Flask every time.

Why: people arrive at this page in bursts from search engines and campaigns, and Flask's
request machinery (context, hooks, header objects) cost more than the page itself; served
from here the page costs about what a bare Flask constant page does (docs/performance.md).
Nothing here changes what a visitor receives: tests compare every replayed answer with
Flask's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Flask
from werkzeug.http import parse_etags

from app.ops.logs import request_id_for

_REQUEST_ID_HEADER = "x-request-id"


@dataclass(frozen=True)
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class PageReplay:
    """WSGI middleware in front of Flask for pages that are the same for everyone."""

    def __init__(self, app: Flask, wsgi_app: Callable, paths: Iterable[str]) -> None:
        self._app = app
        self._wsgi_app = wsgi_app
        self._paths = frozenset(paths)
        self._etags: dict[tuple, str] = {}
        self._answers: dict[tuple, _Answer] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in self._paths:
            return self._wsgi_app(environ, start_response)
        if self._app.debug or self._app.jinja_env.auto_reload:
            return self._wsgi_app(environ, start_response)
        # Everything the answer may depend on; the query string is not (campaign links).
        # Only a yes/no from X-Forwarded-Proto, as the security headers use it: kept as
        # sent, a client could fill this cache with made-up values.
        kind = (
            environ.get("PATH_INFO"),
            environ.get("SCRIPT_NAME", ""),
            environ.get("wsgi.url_scheme") == "https"
            or environ.get("HTTP_X_FORWARDED_PROTO") == "https",
        )
        etag = self._etags.get(kind)
        not_modified = etag is not None and _matches(environ, etag)
        answer = self._answers.get((kind, not_modified))
        if answer is None:
            return self._capture(environ, start_response, kind)
        headers = answer.headers + [
            ("X-Request-ID", request_id_for(environ.get("HTTP_X_REQUEST_ID")))
        ]
        start_response(answer.status, headers)
        return [answer.body]

    def _capture(self, environ: dict, start_response: Callable, kind: tuple) -> Iterable[bytes]:
        """Let Flask answer, and keep the answer if it is one for everybody."""
        seen: dict = {}

        def keep_start_response(status, headers, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        iterable = self._wsgi_app(environ, keep_start_response)
        try:
            body = b"".join(iterable)
        finally:
            if hasattr(iterable, "close"):
                iterable.close()
        self._keep(kind, environ, seen.get("status", ""), seen.get("headers", []), body)
        return [body]

    def _keep(self, kind, environ, status: str, headers: list, body: bytes) -> None:
        names = {name.lower(): value for name, value in headers}
        code = status.split(" ", 1)[0]
        if code not in ("200", "304") or "etag" not in names:
            return
        if "set-cookie" in names or "cookie" in names.get("vary", "").lower():
            return
        etag = names["etag"].strip('"')
        if self._etags.setdefault(kind, etag) != etag:
            return
        not_modified = code == "304"
        if not_modified != _matches(environ, etag):
            return
        kept = [(n, v) for n, v in headers if n.lower() != _REQUEST_ID_HEADER]
        self._answers[(kind, not_modified)] = _Answer(status, kept, body)


def _matches(environ: dict, etag: str) -> bool:
    header = environ.get("HTTP_IF_NONE_MATCH")
    return bool(header) and parse_etags(header).contains_weak(etag)


def init_app(app: Flask, paths: Iterable[str] = ("/",)) -> None:
    """Call before anything else wraps ``app.wsgi_app`` (the proxy fix must run first)."""
    app.wsgi_app = PageReplay(app, app.wsgi_app, paths)  # type: ignore[method-assign]
