"""Refusing posts that another site made a browser send, for a view that begins something.

Every POST of the site is checked by Flask-WTF's CSRF token, bound to the visitor's
session, except the one that begins a request (the journey's first page, sent by a browser
that holds no draft). That page is the same for every new visitor: it carries no token, so
reading it makes no session, no cookie and nothing to sign, and the replay
(replay.py) can answer it as it answers the information page. Its post is checked instead
by what the browser says about where the post came from, the rule Go's
``net/http.CrossOriginProtection`` and ASP.NET's ``ICsrfProtection`` use:

1. ``Sec-Fetch-Site`` (sent by every current browser since 2023): ``same-origin`` or
   ``none`` (typed or bookmarked) is ours; anything else (``same-site``, ``cross-site``)
   is refused.
2. Without it, ``Origin`` (sent on every POST by browsers since 2020) must name this host;
   ``null`` or another host is refused.
3. Without either, the post is not from a browser that another site could drive (curl,
   a monitoring script, a browser from before 2020) and is let through: a forged post
   needs a victim's browser.

The body must also be a form, as the page sends it (urlencoded or multipart).

What is at stake on that one post is small (a draft begun in the visitor's own browser,
holding what the post says), and the session cookie's ``SameSite=Lax`` already keeps a
cross-site post from reaching a draft the browser holds. Every later post, once the
browser holds a draft, carries the token again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import request
from flask_wtf.csrf import CSRFError

from app.common.extensions import csrf

View = TypeVar("View", bound=Callable[..., Any])

_OURS = frozenset({"same-origin", "none"})
# What the site's own forms send. Anything else (JSON, text/plain, XML) is not one of our
# pages: refused as a post without a token would be.
_FORM_BODIES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def is_cross_origin(environ: dict) -> bool:
    """Whether the browser says this request came from a page of another origin."""
    fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None:
        return fetch_site.strip().lower() not in _OURS
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return False
    try:
        origin_host = urlsplit(origin.strip()).netloc
    except ValueError:  # not a URL at all
        return True
    host = environ.get("HTTP_HOST") or ""
    return not origin_host or origin_host.lower() != host.lower()


def token_or_same_origin(begins: Callable[[], bool]) -> Callable[[View], View]:
    """A POST view checked by the browser's word (and a form body) when ``begins()`` is true
    (no draft yet: its page carried no token), and by Flask-WTF's token otherwise, before
    the view and its rate limit run. Either refusal is Flask-WTF's ``CSRFError``: one
    page for both."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if begins():
                if is_cross_origin(request.environ):
                    raise CSRFError("The post came from another site.")
                if request.mimetype not in _FORM_BODIES:
                    raise CSRFError("The post is not a form.")
            else:
                csrf.protect()
            return view(*args, **kwargs)

        # CSRFProtect's own check skips this view: the wrapper above does it, both ways.
        return csrf.exempt(checked)  # type: ignore[return-value]

    return decorate
