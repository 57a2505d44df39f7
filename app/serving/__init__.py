"""Everything between the network and the views: which proxy headers are believed, the
one cache of rendered public pages and the replay of whole answers, security and caching
headers, rate limits, session signing, and static files under fingerprinted names.

``init_app`` installs all of it, in the order written there; nothing else in the app wraps
``app.wsgi_app`` or adds a hook for these. Views say what they need with the decorators
exported here: ``public_cache`` (the same for everyone: may be stored by browsers and
proxies, and is replayed; everything else is ``no-store``), ``same_for_new_visitors``
(replayed to requests without cookies, still ``no-store``), ``page_with_own_token`` (a
page kept for several visitors but for its CSRF token), ``token_or_same_origin`` (a
post that begins something, checked by the browser's Origin instead of a token),
``form_rate_limit``, ``draft_rate_limit`` and ``sign_in_rate_limit``. Libraries are used
through their public API only.
"""

from __future__ import annotations

from functools import partial

from flask import Flask

from app.ops import hostile
from app.serving import headers, language, limits, pages, request_metrics, sessions, static_files
from app.serving.cross_origin import token_or_same_origin
from app.serving.headers import public_cache
from app.serving.limits import draft_rate_limit, form_rate_limit, limiter, sign_in_rate_limit
from app.serving.pages import (
    information_page,
    page_key,
    page_language,
    page_with_own_token,
    shared_page,
)
from app.serving.replay import PageReplay, new_visitor_paths, same_for_new_visitors
from app.serving.trusted_proxies import TrustedProxyFix, parse_networks

__all__ = [
    "draft_rate_limit",
    "form_rate_limit",
    "information_page",
    "init_app",
    "limiter",
    "page_key",
    "page_language",
    "page_with_own_token",
    "public_cache",
    "same_for_new_visitors",
    "shared_page",
    "sign_in_rate_limit",
    "token_or_same_origin",
]


def init_app(app: Flask) -> None:
    # First of all the before_request hooks: the metrics' route of the request, so one
    # that a later hook answers (a 429, a 404 under /es/) is counted under its rule.
    request_metrics.init_app(app)
    # Flask hooks: after_request hooks run last-registered first, so the rate limiter's
    # Retry-After is on a 429 before the headers hook sees it.
    headers.init_app(app)
    # Next of the before_request hooks: a staff address under /es/ is a 404 before
    # anything else looks at it.
    language.init_app(app)
    limits.init_app(app)
    sessions.init_app(app)
    # Flask's static view, answering fingerprinted names too (static_files.py).
    static_files.init_app(app)

    # WSGI layers, innermost first. The replay sits right in front of Flask and keys its
    # copies on the request as the proxy fix and the language layer leave it, so both go
    # outside it: outermost, the trusted-proxy check (trusted_proxies.py), which drops X-Forwarded-*
    # from any peer not in TRUSTED_PROXIES and applies ProxyFix to the others.
    cache = pages.init_app(app)
    # Innermost: a body that cannot be read, and a Host no link can be built for, answer
    # 400 (app/ops/hostile.py); the stream it wraps is the one Flask reads, the host the
    # one the proxy fix leaves.
    app.wsgi_app = hostile.guard_host(hostile.guard_body(app.wsgi_app))  # type: ignore[method-assign]
    # Read at the first request, when every view is there.
    replayed = partial(headers.public_paths, app)
    replayed_for_new_visitors = partial(new_visitor_paths, app)
    app.wsgi_app = PageReplay(  # type: ignore[method-assign]
        app.wsgi_app, cache, replayed, replayed_for_new_visitors
    )
    # The language comes off the address before the replay keys its copies on the path
    # (/es/ is replayed as / is, under another key), and after the proxy fix, whose
    # X-Forwarded-Prefix goes in front of /es in SCRIPT_NAME.
    app.wsgi_app = language.LanguagePrefix(app.wsgi_app)  # type: ignore[method-assign]
    app.wsgi_app = _believe_trusted_proxies(app, app.wsgi_app)  # type: ignore[method-assign]
    # Outermost: every request timed for the metrics, whoever answers it.
    app.wsgi_app = request_metrics.RequestMetrics(app.wsgi_app)  # type: ignore[method-assign]


def _believe_trusted_proxies(app: Flask, wsgi_app):
    """Only as many X-Forwarded-* hops as there are proxies we run are believed
    (TRUSTED_PROXY_COUNT), and only on connections from those proxies' addresses
    (TRUSTED_PROXIES): a client cannot pick its own address to dodge the rate limits or
    forge the audit trail. X-Forwarded-Prefix (a path prefix every link on a page is built
    with) only when the deployment says its proxy sets it (TRUST_FORWARDED_PREFIX):
    otherwise a client could send its own through a proxy that passes it on."""
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies <= 0:
        return wsgi_app
    return TrustedProxyFix(
        wsgi_app,
        count=proxies,
        networks=parse_networks(app.config.get("TRUSTED_PROXIES")),
        trust_prefix=app.config["TRUST_FORWARDED_PREFIX"],
    )
