"""Turns a validated form into the service's NewRequest: the stored shape of each answer,
as app/requests/fields.py describes it, from the same parsers the form's checks use
(app/common/validation.py): typed values, returned, never read off the form's fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from app.common.validation import (
    ParsedPhone,
    PhoneProblem,
    date_from_boxes,
    parse_email,
    parse_phone,
    parse_zip,
)
from app.public.forms import AppointmentRequestForm
from app.requests.appointment_requests import NewRequest, ReferralDetails
from app.requests.fields import FIELDS, FORM_ORDER, RequestField, Stored, is_kept

T = TypeVar("T")


class NotValidated(ValueError):
    """An answer that does not parse reached the stored shape: the form was not checked
    first. A bug, never the person's doing; the message names the question, not the
    answer."""


def to_new_request(form: AppointmentRequestForm, *, form_language: str) -> NewRequest:
    """The stored shape of a validated form's answers; ``form_language`` is the page's
    (PageLanguage), so intake knows how the person read the form and the e-mail goes out
    in it."""
    answers = {name: form[name].data for name in FORM_ORDER}
    values: dict[str, object] = {}
    referral: dict[str, object] = {}
    for field in FIELDS:
        holder = referral if field.on_referral else values
        if is_kept(field, answers):
            holder.update(_stored(form, field))
        else:
            holder.update(dict.fromkeys(_columns(field)))
            if field.stored == Stored.CODES:
                holder[field.column] = []
    return NewRequest(
        **values,  # type: ignore[arg-type]
        form_language=form_language,
        referral=ReferralDetails(**referral) if values["has_referral"] else None,  # type: ignore[arg-type]
    )


def _columns(field: RequestField) -> tuple[str, ...]:
    return tuple(c for c in (field.column, field.extension_column) if c)


def _stored(form: AppointmentRequestForm, field: RequestField) -> dict[str, object]:
    """One answer's columns (a phone's extension beside its number), in stored shape."""
    shape = _SHAPES.get(field.stored)
    if shape is None:
        raise NotValidated(f"{field.name}: no stored shape for {field.stored}")
    data = form[field.form_field].data
    if field.stored == Stored.DATE:
        data = [form[box].data or "" for box in field.form_fields]
    return shape(field, data)


def _flag(field: RequestField, data: object) -> dict[str, object]:
    # A check box's data is True or False; a radio's is the answer chosen.
    return {field.column: data == field.flag_answer if isinstance(data, str) else bool(data)}


def _phone_columns(field: RequestField, data: str | None) -> dict[str, object]:
    phone = _phone(field, data) if data else None
    stored: dict[str, object] = {field.column: phone.number if phone else None}
    if field.extension_column:
        stored[field.extension_column] = phone.extension if phone else None
    return stored


def _date(field: RequestField, boxes: list[str]) -> dict[str, object]:
    born = date_from_boxes(*boxes)
    return {field.column: _valid(field, born if isinstance(born, date) else None)}


_SHAPES: dict[Stored, Callable[[RequestField, Any], dict[str, object]]] = {
    Stored.TEXT: lambda f, data: {f.column: data},
    Stored.OPTIONAL: lambda f, data: {f.column: data or None},
    Stored.CODE: lambda f, data: {f.column: data or None},
    Stored.CODES: lambda f, data: {f.column: list(data or [])},
    Stored.FLAG: _flag,
    Stored.PHONE: _phone_columns,
    Stored.FAX: _phone_columns,
    Stored.EMAIL: lambda f, data: {f.column: _valid(f, parse_email(data)) if data else None},
    Stored.ZIP: lambda f, data: {f.column: _valid(f, parse_zip(data or ""))},
    Stored.DATE: _date,
}


def _phone(field: RequestField, typed: str) -> ParsedPhone:
    parsed = parse_phone(typed, allow_extension=field.stored == Stored.PHONE)
    return _valid(field, None if isinstance(parsed, PhoneProblem) else parsed)


def _valid(field: RequestField, value: T | None) -> T:
    if value is None:
        raise NotValidated(f"{field.name}: the answer was not checked before it was stored")
    return value
