"""Answers for the information page without going through Flask each time.

Which pages: those whose view is declared ``@public_cache`` (and takes no parameter); today
the information page. It is the same for every visitor who reaches it the same way: its bytes
and headers depend only on the code, the configuration and the request's ``PageKey``
(pages.py: path, script root, host, scheme, language). The first request of each key goes
through Flask as usual, and the complete answer Flask gave (status, every header, the body)
is kept in the page cache under that key; later requests with the same key get a copy, with
a request id of their own. A browser that sends back the page's ETag gets the 304 Flask gave
for that, kept the same way. Anything else (another method or path, a response that sets a
cookie or varies by cookie, debug mode or template auto-reload, a full cache) goes to Flask
every time.

Why: people arrive at this page in bursts from search engines and campaigns, and Flask's
request machinery (context, hooks, header objects) cost more than the page itself; served
from here the page costs about what a bare Flask constant page does (docs/performance.md).
Nothing here changes what a visitor receives: tests compare every replayed answer with
Flask's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from werkzeug.http import parse_etags

from app.ops.logs import request_id_for

from .pages import REPLAY_PART, PageCache, PageKey, page_key

_REQUEST_ID_HEADER = "x-request-id"


@dataclass(frozen=True)
class _Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Replayed:
    """Flask's answers for one key: the 200 and the 304, and the ETag they share."""

    etag: str
    answers: dict[bool, _Answer] = field(default_factory=dict)


class PageReplay:
    """WSGI middleware in front of Flask for pages that are the same for everyone."""

    def __init__(
        self, wsgi_app: Callable, cache: PageCache, paths: Callable[[], Iterable[str]]
    ) -> None:
        self._wsgi_app = wsgi_app
        self.cache = cache
        # Which paths: asked once, at the first request, when every view is registered.
        self._read_paths = paths
        self._paths: frozenset[str] | None = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self._paths is None:
            self._paths = frozenset(self._read_paths())
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") not in self._paths:
            return self._wsgi_app(environ, start_response)
        if not self.cache.enabled:
            return self._wsgi_app(environ, start_response)
        # The query string is not part of the key: campaign links get the same page.
        key = page_key(environ)
        kept: Replayed | None = self.cache.get(key, REPLAY_PART)
        answer = None
        if kept is not None:
            answer = kept.answers.get(_matches(environ, kept.etag))
        if answer is None:
            return self._capture(environ, start_response, key)
        headers = answer.headers + [
            ("X-Request-ID", request_id_for(environ.get("HTTP_X_REQUEST_ID")))
        ]
        start_response(answer.status, headers)
        return [answer.body]

    def _capture(self, environ: dict, start_response: Callable, key: PageKey) -> Iterable[bytes]:
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
        self._keep(key, environ, seen.get("status", ""), seen.get("headers", []), body)
        return [body]

    def _keep(self, key: PageKey, environ, status: str, headers: list, body: bytes) -> None:
        names = {name.lower(): value for name, value in headers}
        code = status.split(" ", 1)[0]
        if code not in ("200", "304") or "etag" not in names:
            return
        if "set-cookie" in names or "cookie" in names.get("vary", "").lower():
            return
        etag = names["etag"].strip('"')
        kept: Replayed = self.cache.put(key, REPLAY_PART, Replayed(etag))
        if kept.etag != etag or self.cache.get(key, REPLAY_PART) is not kept:
            return  # another answer for the same key, or a full cache: keep nothing
        not_modified = code == "304"
        if not_modified != _matches(environ, etag):
            return
        kept_headers = [(n, v) for n, v in headers if n.lower() != _REQUEST_ID_HEADER]
        kept.answers[not_modified] = _Answer(status, kept_headers, body)


def _matches(environ: dict, etag: str) -> bool:
    header = environ.get("HTTP_IF_NONE_MATCH")
    return bool(header) and parse_etags(header).contains_weak(etag)
