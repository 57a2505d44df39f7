"""Public pages that are the same for every visitor, rendered once per worker.

The information page depends only on configuration and templates, and both are fixed for
a worker's life in production (templates are not reloaded), so it is rendered once and
served as bytes with a strong ETag taken from those bytes. A browser or proxy that already
has the page gets a 304 without anything being rendered. Every worker on every host renders
the same bytes from the same code and configuration, so they all agree on the ETag: nothing
depends on which process answers.

The blank request form is the same for everyone except its two hidden tokens (the CSRF
token and the one-time form token). It is rendered once with placeholders where the tokens
go, and each visitor gets those pieces joined around their own tokens. A form shown again
with errors is always rendered in full; only the blank form is cached, and it holds no
patient data.

In debug mode, or with TEMPLATES_AUTO_RELOAD, nothing is kept, so template edits show at
once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, render_template
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf

_CACHE_KEY = "public_rendered_pages"
# Plain letters and digits, so escaping cannot change them on the way through Jinja.
_CSRF_SLOT = "csrfSlot9f2b7c1e"
_TOKEN_SLOT = "formTokenSlot4d8a03"  # noqa: S105  (a placeholder, not a secret)


@dataclass(frozen=True)
class RenderedPage:
    body: bytes
    etag: str


@dataclass(frozen=True)
class _FormPieces:
    before_csrf: str
    before_token: str
    after_token: str


def _cache() -> dict | None:
    if current_app.debug or current_app.jinja_env.auto_reload:
        return None
    return current_app.extensions.setdefault(_CACHE_KEY, {})


def static_page(template: str) -> RenderedPage:
    """The page as rendered for every visitor, and a strong ETag of its bytes."""
    cache = _cache()
    page = cache.get(template) if cache is not None else None
    if page is None:
        body = render_template(template).encode()
        page = RenderedPage(body=body, etag=hashlib.sha256(body).hexdigest()[:32])
        if cache is not None:
            cache[template] = page
    return page


def blank_form(template: str, make_form: Callable[[], FlaskForm], form_token: str) -> str:
    """The blank form page with this visitor's CSRF token and one-time form token."""
    cache = _cache()
    key = ("blank-form", template)
    pieces = cache.get(key) if cache is not None else None
    if pieces is None:
        pieces = _render_pieces(template, make_form)
        if pieces is None:
            # The template no longer shows each token exactly once: render in full.
            form = make_form()
            form.form_token.data = form_token
            return render_template(template, form=form)
        if cache is not None:
            cache[key] = pieces
    return (
        pieces.before_csrf + generate_csrf() + pieces.before_token + form_token + pieces.after_token
    )


def _render_pieces(template: str, make_form: Callable[[], FlaskForm]) -> _FormPieces | None:
    form = make_form()
    form.csrf_token.current_token = _CSRF_SLOT
    form.form_token.data = _TOKEN_SLOT
    html = render_template(template, form=form)
    if html.count(_CSRF_SLOT) != 1 or html.count(_TOKEN_SLOT) != 1:
        return None
    before_csrf, rest = html.split(_CSRF_SLOT)
    if _TOKEN_SLOT not in rest:
        return None
    before_token, after_token = rest.split(_TOKEN_SLOT)
    return _FormPieces(before_csrf, before_token, after_token)
