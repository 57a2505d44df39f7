"""The one cache of rendered public pages, and the key every copy in it is kept under.

A page that is the same for every visitor is only the same for every visitor *who reached
it the same way*: its links are built from the request's script root (the path prefix a
proxy may announce), its headers from the scheme (HSTS on https only), and its words from
the language (``/es/...``). So every copy is kept under a ``PageKey`` holding each of those, taken
from the WSGI environment after the proxy fix, and a copy made for one key is never served
to another: a request that arrives with a made-up prefix or host gets a page of its own and
poisons nobody else's. The configuration is part of the key by where the cache lives: one
per application, dropped with it.

Three things read and write this cache, all in this package: the information page's ETag
(``information_page``), the replay of whole answers (``replay.py``), which keeps the
information page and the journey's blank first page (``shared_page``), and the pages that
differ between visitors only by their CSRF token (``page_with_own_token``: a journey page
not answered yet). It holds at most
``MAX_ENTRIES`` entries; once full, a request of a new kind is answered by Flask every
time, so a flood of made-up hosts or prefixes costs the flooder renders, not anyone else
memory or correct links.

In debug mode, or with TEMPLATES_AUTO_RELOAD, nothing is kept, so template edits show at
once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from threading import Lock
from typing import Any

from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import generate_csrf

from app.serving.language import language_of

EXTENSION_KEY = "serving_pages"
MAX_ENTRIES = 256
# What the replay (replay.py) keeps under a key: Flask's answers and their ETag.
REPLAY_PART = "replayed-answers"
# Set while a page that will be shared with other visitors is rendered: the query string
# is not part of the key, so nothing on such a page may come from it (the language links).
# The replay keeps only answers that carry it.
SHARED_PAGE_KEY = "intake.shared_page"
# What a page kept for several visitors holds where each visitor's CSRF token goes: made
# anew by each process, so no answer or page can hold it by chance.
_TOKEN_STAND_IN = f"csrf-{secrets.token_hex(16)}"


def page_language(environ: dict) -> str:
    """The language a page is answered in: the one place a cached page's language comes from.

    The address says it (``/es/...``): the language layer (language.py), outside the
    replay, records it in the environment before any copy is looked up."""
    return language_of(environ)


@dataclass(frozen=True)
class PageKey:
    """Everything about how a request arrived that can change a public page's bytes."""

    path: str
    script_root: str
    host: str
    https: bool
    language: str


def page_key(environ: dict) -> PageKey:
    return PageKey(
        path=environ.get("PATH_INFO", ""),
        script_root=environ.get("SCRIPT_NAME", ""),
        host=(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")).lower(),
        # A yes/no, as the security headers decide HSTS (headers.py): kept as sent, a
        # client could fill the cache with made-up values.
        https=is_https(environ),
        language=page_language(environ),
    )


def is_https(environ: dict) -> bool:
    """https as the WSGI server saw it (after the trusted-proxy fix), or as the proxy
    says: Talisman's rule for HSTS, and the scheme of a cached page's key."""
    return (
        environ.get("wsgi.url_scheme") == "https"
        or environ.get("HTTP_X_FORWARDED_PROTO") == "https"
    )


class PageCache:
    """Copies of rendered pages, each under its key and the name of what was kept."""

    def __init__(self, app: Flask, max_entries: int = MAX_ENTRIES) -> None:
        self._app = app
        self._max_entries = max_entries
        self._entries: dict[tuple[PageKey, Hashable], Any] = {}
        self._lock = Lock()

    @property
    def enabled(self) -> bool:
        # Read per request: tests and the debugger switch these after the app is made.
        return not (self._app.debug or self._app.jinja_env.auto_reload)

    def get(self, key: PageKey, part: Hashable) -> Any:
        return self._entries.get((key, part)) if self.enabled else None

    def put(self, key: PageKey, part: Hashable, value: Any) -> Any:
        """Keep ``value`` unless the cache is off or full; return what is kept (or value)."""
        if not self.enabled:
            return value
        with self._lock:
            if (key, part) not in self._entries and len(self._entries) >= self._max_entries:
                return value
            return self._entries.setdefault((key, part), value)

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[tuple[PageKey, Hashable]]:
        return list(self._entries)


def cache_for(app: Flask) -> PageCache:
    return app.extensions[EXTENSION_KEY]


def init_app(app: Flask) -> PageCache:
    cache = app.extensions[EXTENSION_KEY] = PageCache(app)
    return cache


def information_page(template: str) -> Response:
    """A page the same for everyone, with a strong ETag of its bytes.

    A browser that sends back the ETag the replay already holds for this key gets a 304
    with nothing rendered. Every worker on every host renders the same bytes from the
    same code, configuration and key, so they all agree on the ETag."""
    kept = cache_for(current_app).get(page_key(request.environ), REPLAY_PART)
    etag = kept.etag if kept is not None else None
    request.environ[SHARED_PAGE_KEY] = True
    if etag is not None and request.if_none_match.contains_weak(etag):
        response = Response(status=304)
        response.set_etag(etag)
        return response
    body = render_template(template).encode()
    response = Response(body, mimetype="text/html")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    # A stale or foreign ETag: the full page; a matching one on a first visit: a 304.
    return response.make_conditional(request)


def shared_page(template: str, **context: Any) -> str:
    """A page rendered to be shared with every visitor of its ``PageKey`` (the replay keeps
    it, replay.py): nothing on it may come from the query string (the language links leave
    it out) or from anything else the visitor sent."""
    request.environ[SHARED_PAGE_KEY] = True
    return render_template(template, **context)


def page_with_own_token(part: Hashable, render: Callable[..., str]) -> str:
    """A page that is the same for every visitor of its ``PageKey`` whose page says the
    same ``part`` (everything else the page is made from), but for its CSRF token.

    ``render(csrf_token=...)`` makes it once per key and part, with a stand-in for the
    token (the template's ``csrf_token()``); each visitor gets a copy with their own token
    in its place. The caller must put into ``part`` everything the page shows that a
    visitor sent (and send nothing of a person's answers this way: a page that shows an
    answer is not the same for everyone). The answer stays ``no-store`` for browsers."""
    cache = cache_for(current_app)
    key = page_key(request.environ)
    page = cache.get(key, part)
    if page is None:
        page = cache.put(key, part, render(csrf_token=lambda: _TOKEN_STAND_IN))
    return page.replace(_TOKEN_STAND_IN, generate_csrf())
