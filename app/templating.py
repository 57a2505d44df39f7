"""Template filters every page may use, registered by the factory: labels from the
vocabulary, references in groups of four, times, waiting times and phone numbers."""

from __future__ import annotations

from datetime import date, datetime

import phonenumbers
from flask import Flask, current_app

from .i18n import _
from .services import intake_queue, reference_codes
from .validation import phone_href
from .vocabulary import BY_NAME, Vocabulary


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
    seconds = max(0, int((now - intake_queue.as_utc(since)).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min"


def local(value: datetime | None) -> str:
    """A moment in the center's time zone, with the zone: "Thu 26 Nov 2026, 2:05 PM EST"."""
    if value is None:
        return ""
    moment = current_app.extensions["business_clock"].local(value)
    return f"{moment:%a} {moment.day} {moment:%b %Y}, {_clock_time(moment)} {moment:%Z}"


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


def phone_with_extension(value: str | None, extension: str | None = None) -> str:
    """The number as people read it and its extension: "(813) 555-0123 ext. 204"."""
    shown = phone(value)
    if shown and extension:
        return _("%(number)s ext. %(extension)s", number=shown, extension=extension)
    return shown


def init_app(app: Flask) -> None:
    # ``{{ _("...") }}`` and ``{% trans %}`` in every template (app/i18n.py says why).
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    app.jinja_env.filters.update(
        label=label,
        reference=reference,
        waited=waited,
        utc=utc,
        local=local,
        local_time=local_time,
        day=day,
        phone=phone,
        phone_ext=phone_with_extension,
        # A tel: link that dials the extension too (RFC 3966 ";ext=").
        tel=phone_href,
    )
