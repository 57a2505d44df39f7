"""Template filters every page may use, registered by the factory: labels from the
vocabulary, references in groups of four, times, waiting times and phone numbers; and the
translations (Flask-Babel: ``_``, ``{% trans %}``, the page's language and its twin in the
other language)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from babel import dates as babel_dates
from flask import Flask, current_app, has_request_context, request, url_for
from flask_babel import Babel, format_date, get_locale, get_translations

from app.common.i18n import DEFAULT_LANGUAGE, LANGUAGES, _, _n
from app.common.validation import phone_href
from app.requests import reference_codes
from app.serving import language as page_language
from app.serving import static_files
from app.serving.pages import SHARED_PAGE_KEY
from app.vocabulary import BY_NAME, Vocabulary, translated_once

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def label(value: object, vocabulary: str | None = None) -> str:
    """What people read for a coded value: ``status | label``, or, for a plain stored
    string, ``site | label("MetastasisSite")``. Empty for none or an unknown value."""
    if isinstance(value, Vocabulary) and vocabulary is None:
        return value.label
    if vocabulary is None or value is None:
        return ""
    return BY_NAME[vocabulary].label_for(str(value))


def reference(value: str | None) -> str:
    """A reference as people read and type it: K7QM-4XPD-9RTA."""
    return reference_codes.display(value) if value else ""


def waited(since: datetime, now: datetime) -> str:
    """How long a request has waited, in the largest units that matter."""
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min"


def waited_short(since: datetime, now: datetime) -> str:
    """The queue's waiting time in a narrow column: "3d 4h", "5h 10m", "12m"."""
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {rest // 60}m"
    return f"{rest // 60}m"


def local(value: datetime | None) -> str:
    """A moment in the center's time zone, with the zone: "Thu 26 Nov 2026, 2:05 PM EST"."""
    if value is None:
        return ""
    moment = current_app.extensions["business_clock"].local(value)
    return f"{moment:%a} {moment.day} {moment:%b %Y}, {_clock_time(moment)} {moment:%Z}"


def local_day(value: datetime | None) -> str:
    """The center's date of a moment, short: "Fri 21 Jun 2024"."""
    if value is None:
        return ""
    return day(current_app.extensions["business_clock"].local(value).date())


def local_time(value: datetime | None) -> str:
    """Only the time of day, with the zone: "2:05 PM EST"."""
    if value is None:
        return ""
    moment = current_app.extensions["business_clock"].local(value)
    return f"{_clock_time(moment)} {moment:%Z}"


def day(value: date | None) -> str:
    """A date as people read it: "Thu 3 Dec 2026"."""
    if value is None:
        return ""
    return f"{value:%a} {value.day} {value:%b %Y}"


def long_date(value: date | None) -> str:
    """A date in the page's language, for the public pages: "December 3, 2026",
    "3 de diciembre de 2026"."""
    if value is None:
        return ""
    return format_date(value, format="long")


def public_moment(value: datetime | None) -> str:
    """A moment for the public pages, in the center's zone and the page's language:
    "Tuesday, March 3, 2026, 10:15 AM Eastern Time", "martes, 3 de marzo de 2026, 10:15
    hora del este de Norteamérica"."""
    if value is None:
        return ""
    clock = current_app.extensions["business_clock"]
    moment = clock.local(value)
    locale = get_locale()
    return "{}, {} {}".format(
        babel_dates.format_date(moment.date(), format="full", locale=locale),
        babel_dates.format_time(moment, format="short", locale=locale),
        babel_dates.get_timezone_name(moment, width="long", locale=locale, zone_variant="generic"),
    )


def business_days(number: int) -> str:
    """The reply promise's length in the page's language: "2 business days", "2 días
    hábiles"."""
    return _n("%(num)s business day", "%(num)s business days", number)


def _clock_time(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


# The name templates have always used; every staff time is now local, with its zone.
utc = local


def phone(value: str | None) -> str:
    """E.164 as people read it: (813) 555-0123 at home, +44 20 7946 0958 abroad."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return value
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def _locale() -> str:
    # The command line, the e-mail worker and FHIR exports run in an app context without
    # a request: English, as the staff side is.
    if not has_request_context():
        return DEFAULT_LANGUAGE
    return page_language.language_of(request.environ)


def _language_context() -> dict[str, Any]:
    """``page_language`` for ``<html lang>`` on every page; on a page that exists in both
    languages, ``language_links``: the same page in each (the switch and hreflang)."""
    if not has_request_context():
        return {"page_language": DEFAULT_LANGUAGE}
    locale = get_locale()
    context: dict[str, Any] = {"page_language": str(locale) if locale else DEFAULT_LANGUAGE}
    if page_language.has_twin():
        # A page shared with later visitors keys on the path, not the query string.
        keep_query = not request.environ.get(SHARED_PAGE_KEY)
        context["language_links"] = page_language.language_links(keep_query=keep_query)
    return context


def static_url(filename: str) -> str:
    """A static file's address under its fingerprinted name (app/serving/static_files.py:
    kept a year, immutable), without the language prefix: /static/... is one file whatever
    the page's language (one copy in browsers and nginx)."""
    if not has_request_context():
        fingerprints = current_app.extensions[static_files.EXTENSION_KEY]
        return url_for("static", filename=fingerprints.name_for(filename))
    root = request.script_root
    base = request.environ.get(page_language.BASE_SCRIPT_KEY, root)
    # Every page links the same two files: url_for once per app, address prefix and file.
    known = current_app.extensions.setdefault(_STATIC_URLS, {})
    key = (root, base, filename)
    if key not in known:
        fingerprints = current_app.extensions[static_files.EXTENSION_KEY]
        built = url_for("static", filename=fingerprints.name_for(filename))
        known[key] = base + built[len(root) :]
    return known[key]


_STATIC_URLS = "intake_static_urls"


def phone_with_extension(value: str | None, extension: str | None = None) -> str:
    """The number as people read it and its extension: "(813) 555-0123 ext. 204"."""
    shown = phone(value)
    if shown and extension:
        return _("%(number)s ext. %(extension)s", number=shown, extension=extension)
    return shown


def init_app(app: Flask) -> None:
    # ``{{ _("...") }}`` and ``{% trans %}`` in every template, and app/common/i18n.py's ``_`` and
    # ``_l``, read the catalogs under translations/ in the language the address names.
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    Babel(app, locale_selector=_locale)
    # The templates' words translated once per process and language (a journey page reads
    # a dozen; through Flask-Babel each found the request's context four times, issue 28).
    app.jinja_env.install_gettext_callables(
        gettext=translated_once,
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
        newstyle=True,
    )
    app.context_processor(_language_context)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, static_url=static_url)
    app.jinja_env.filters.update(
        long_date=long_date,
        public_moment=public_moment,
        business_days=business_days,
        label=label,
        reference=reference,
        waited=waited,
        waited_short=waited_short,
        utc=utc,
        local=local,
        local_time=local_time,
        local_day=local_day,
        day=day,
        phone=phone,
        phone_ext=phone_with_extension,
        # A tel: link that dials the extension too (RFC 3966 ";ext=").
        tel=phone_href,
    )
