"""The language is in the address: ``/es/...`` is the Spanish twin of every public page.

A WSGI layer moves a leading ``/es`` from ``PATH_INFO`` to the end of ``SCRIPT_NAME`` and
records the language in the environment. Flask then routes ``/es/request-appointment``
exactly as ``/request-appointment``, and ``url_for`` builds every link of a Spanish page
under ``/es/`` with no change in any view or template; the page cache (pages.py) keys
each copy by script root and language, so the two never mix. English keeps today's
addresses.

Only the public side has a Spanish twin. ``before_request`` (``init_app``) answers 404
for anything else asked under ``/es`` (staff pages, health checks): the staff side is in
English and exists once, at ``/staff``.

Why the address and not a cookie or ``Accept-Language``: each page then has one language
that can be cached (here, in nginx and in browsers), linked and shared, with no ``Vary``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import quote

from flask import Flask, abort, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app.common.i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES

# Where the layer leaves its findings in the WSGI environment.
LANGUAGE_KEY = "intake.language"
BASE_SCRIPT_KEY = "intake.base_script_name"
# The prefix of each language other than the default.
PREFIXES = {language: "/" + language for language in LANGUAGES if language != DEFAULT_LANGUAGE}
# Blueprints (and Flask's static files) that have a page in every language.
PUBLIC_BLUEPRINTS = frozenset({"public", "patient"})
STATIC_ENDPOINT = "static"


class LanguagePrefix:
    """WSGI middleware: ``/es/x`` becomes ``SCRIPT_NAME + "/es"`` and ``PATH_INFO`` ``/x``."""

    def __init__(self, wsgi_app: Callable) -> None:
        self._wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        script = environ.get("SCRIPT_NAME", "")
        environ[BASE_SCRIPT_KEY] = script
        environ[LANGUAGE_KEY] = DEFAULT_LANGUAGE
        for language, prefix in PREFIXES.items():
            if path == prefix or path.startswith(prefix + "/"):
                environ[LANGUAGE_KEY] = language
                environ["SCRIPT_NAME"] = script + prefix
                # "/es" alone is the Spanish home page, as "" is the English one.
                environ["PATH_INFO"] = path[len(prefix) :] or "/"
                break
        return self._wsgi_app(environ, start_response)


def language_of(environ: dict) -> str:
    """The language a request is answered in (``en`` when the layer did not see it)."""
    return environ.get(LANGUAGE_KEY, DEFAULT_LANGUAGE)


def address_in(language: str, *, keep_query: bool = True) -> str:
    """This page's address (path and, unless told otherwise, query) in ``language``.

    A path, not a full URL: no link on any page is built from the request's Host header
    (tests/serving/test_cache_poisoning.py holds every link to that), and browsers and
    search engines resolve it against the page they read it on."""
    environ = request.environ
    base = environ.get(BASE_SCRIPT_KEY, request.script_root)
    address = base + PREFIXES.get(language, "")
    # One leading slash: "//host/x" after an empty base would be a link to another site.
    path = "/" + request.path.lstrip("/")
    address += quote(path, safe="/:@!$&'()*+,;=-._~")
    if keep_query and request.query_string:
        address += "?" + request.query_string.decode("latin-1")
    return address


def has_twin() -> bool:
    """Whether this page exists in every language (a public page, or an error page
    outside the staff side)."""
    blueprint = request.blueprint
    if blueprint is None:
        # An error page for an address nothing answers: the same address in the other
        # language is as good as any.
        return not request.path.startswith("/staff")
    return blueprint in PUBLIC_BLUEPRINTS


def language_links(*, keep_query: bool) -> list[dict[str, str]]:
    """The page in each language, for the switch and the ``hreflang`` links."""
    return [
        {
            "language": language,
            "name": LANGUAGE_NAMES[language],
            "href": address_in(language, keep_query=keep_query),
        }
        for language in LANGUAGES
    ]


def init_app(app: Flask) -> None:
    @app.before_request
    def _public_pages_only_in_other_languages() -> None:
        if language_of(request.environ) == DEFAULT_LANGUAGE:
            return
        if isinstance(request.routing_exception, (NotFound, MethodNotAllowed)):
            return  # no such address, or not this method: Flask's own 404 or 405
        if request.endpoint == STATIC_ENDPOINT or request.blueprint in PUBLIC_BLUEPRINTS:
            return
        abort(404)
