"""Answers for the information page and the journey's first page without going through
Flask each time.

Which pages, and for whom:

- Views declared ``@public_cache`` (and taking no parameter), today the information page,
  for everyone. Its bytes and headers depend only on the code, the configuration and the
  request's ``PageKey`` (pages.py: path, script root, host, scheme, language). A browser
  that sends back the page's ETag gets the 304 Flask gave for that, kept the same way.
- Views declared ``@same_for_new_visitors`` (and taking no parameter), today the start of
  the request journey, only for a request that carries no cookie at all: such a visitor
  holds no draft, so the page is blank and carries no token (cross_origin.py), the same
  for every new visitor under one ``PageKey``. It stays ``no-store`` and ``Vary: Cookie``
  for browsers and proxies (the same address shows a visitor's own answers once they have
  a draft), and any request with a cookie goes to Flask.

The first request of each key goes through Flask as usual, and the complete answer Flask
gave (status, every header, the body) is kept in the page cache under that key; later
requests with the same key get a copy, with a request id of their own. An answer is kept
only if the view said, while rendering it, that it is the one shared with everyone
(``pages.shared_page``). Anything else (another method or path, a response that sets a
cookie, varies by cookie on a page for everyone, debug mode or template auto-reload, a full
cache) goes to Flask every time.

Why: people arrive at this page in bursts from search engines and campaigns, and Flask's
request machinery (context, hooks, header objects) cost more than the page itself; served
from here the page costs about what a bare Flask constant page does (docs/performance.md).
Nothing here changes what a visitor receives: tests compare every replayed answer with
Flask's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from werkzeug.http import parse_etags

from app.ops.logs import request_id_for
from app.serving.pages import REPLAY_PART, SHARED_PAGE_KEY, PageCache, PageKey, page_key
from app.serving.request_metrics import record_route

_REQUEST_ID_HEADER = "x-request-id"
# What the replay keeps under a key for a page answered alike to every new visitor.
NEW_VISITOR_PART = "replayed-for-new-visitors"
NEW_VISITORS_ATTRIBUTE = "same_for_new_visitors"

View = TypeVar("View", bound=Callable[..., Any])


def same_for_new_visitors(view: View) -> View:
    """Declares a GET view's answer to a request without cookies the same for everyone
    who reaches it the same way (its ``PageKey``): the replay keeps it. The view must
    still build that answer from nothing a visitor sent but the key."""
    setattr(view, NEW_VISITORS_ATTRIBUTE, True)
    return view


def new_visitor_paths(app) -> list[str]:
    """The addresses of the views declared ``@same_for_new_visitors`` that take no
    parameter."""
    return [
        rule.rule
        for rule in app.url_map.iter_rules()
        if not rule.arguments
        and getattr(app.view_functions.get(rule.endpoint), NEW_VISITORS_ATTRIBUTE, False)
    ]


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
        self,
        wsgi_app: Callable,
        cache: PageCache,
        paths: Callable[[], Iterable[str]],
        new_visitor_paths: Callable[[], Iterable[str]],
    ) -> None:
        self._wsgi_app = wsgi_app
        self.cache = cache
        # Which paths: asked once, at the first request, when every view is registered.
        self._read_paths = paths
        self._read_new_visitor_paths = new_visitor_paths
        self._paths: frozenset[str] | None = None
        self._new_visitor_paths: frozenset[str] = frozenset()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self._paths is None:
            self._new_visitor_paths = frozenset(self._read_new_visitor_paths())
            self._paths = frozenset(self._read_paths())
        if environ.get("REQUEST_METHOD") != "GET" or not self.cache.enabled:
            return self._wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO")
        if path in self._new_visitor_paths and not environ.get("HTTP_COOKIE"):
            # The metrics' route: these views take no parameter, so the path is the rule.
            record_route(environ, path)
            return self._for_new_visitor(environ, start_response)
        if path not in self._paths:
            return self._wsgi_app(environ, start_response)
        record_route(environ, path)
        # The query string is not part of the key: campaign links get the same page.
        key = page_key(environ)
        kept: Replayed | None = self.cache.get(key, REPLAY_PART)
        answer = None
        if kept is not None:
            answer = kept.answers.get(_matches(environ, kept.etag))
        if answer is None:
            status, headers, body = self._capture(environ, start_response)
            self._keep(key, environ, status, headers, body)
            return [body]
        return _replay(answer, environ, start_response)

    def _for_new_visitor(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        key = page_key(environ)
        answer: _Answer | None = self.cache.get(key, NEW_VISITOR_PART)
        if answer is not None:
            return _replay(answer, environ, start_response)
        status, headers, body = self._capture(environ, start_response)
        names = {name.lower() for name, _ in headers}
        if status.startswith("200 ") and "set-cookie" not in names and _shared(environ):
            self.cache.put(key, NEW_VISITOR_PART, _kept(status, headers, body))
        return [body]

    def _capture(self, environ: dict, start_response: Callable) -> tuple[str, list, bytes]:
        """Let Flask answer, and return what it answered."""
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
        return seen.get("status", ""), seen.get("headers", []), body

    def _keep(self, key: PageKey, environ, status: str, headers: list, body: bytes) -> None:
        """Keep the answer if it is one for everybody."""
        names = {name.lower(): value for name, value in headers}
        code = status.split(" ", 1)[0]
        if code not in ("200", "304") or "etag" not in names or not _shared(environ):
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
        kept.answers[not_modified] = _kept(status, headers, body)


def _kept(status: str, headers: list, body: bytes) -> _Answer:
    return _Answer(status, [(n, v) for n, v in headers if n.lower() != _REQUEST_ID_HEADER], body)


def _replay(answer: _Answer, environ: dict, start_response: Callable) -> Iterable[bytes]:
    headers = answer.headers + [("X-Request-ID", request_id_for(environ.get("HTTP_X_REQUEST_ID")))]
    start_response(answer.status, headers)
    return [answer.body]


def _shared(environ: dict) -> bool:
    """The view said, while answering, that this answer is the one for everyone."""
    return bool(environ.get(SHARED_PAGE_KEY))


def _matches(environ: dict, etag: str) -> bool:
    header = environ.get("HTTP_IF_NONE_MATCH")
    return bool(header) and parse_etags(header).contains_weak(etag)
