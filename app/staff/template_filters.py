"""Template filters for staff pages: waiting times, timestamps, phone numbers."""

from __future__ import annotations

from datetime import datetime

import phonenumbers

from app.services import intake_queue

from . import bp


@bp.app_template_filter("waited")
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


@bp.app_template_filter("utc")
def utc(value: datetime | None) -> str:
    if value is None:
        return ""
    return intake_queue.as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("phone")
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
