"""Turns a validated form into the service's NewRequest: the stored shape of each answer,
as app/requests/fields.py describes it."""

from __future__ import annotations

from flask import request

from app.public.forms import AppointmentRequestForm
from app.requests.appointment_requests import NewRequest, ReferralDetails
from app.requests.fields import FIELDS, FORM_ORDER, RequestField, Stored, is_kept
from app.serving.language import language_of
from app.vocabulary import YesNo


def _stored_value(form: AppointmentRequestForm, field: RequestField) -> object:
    form_field = form[field.form_field]
    data = form_field.data
    match field.stored:
        case Stored.TEXT:
            return data
        case Stored.OPTIONAL | Stored.CODE:
            return data or None
        case Stored.NORMALIZED:
            # Set by the field's validator; absent when an optional field was left empty.
            return getattr(form_field, "normalized", None)
        case Stored.CODES:
            return list(data or [])
        case Stored.FLAG:
            # A check box's data is True or False; a radio's is the answer chosen.
            return data == field.flag_answer if isinstance(data, str) else bool(data)
        case Stored.DATE:
            return form.date_of_birth
    raise ValueError(f"{field.name}: no stored shape for {field.stored}")


def to_new_request(form: AppointmentRequestForm, *, form_language: str | None = None) -> NewRequest:
    """The stored shape of the answers; ``form_language`` is the page's (PageLanguage):
    by default the language of the address the form was sent to (/es/...: Spanish), so
    intake knows how the person read the form, and the e-mail goes out in it."""
    answers = {name: form[name].data for name in FORM_ORDER}
    values: dict[str, object] = {}
    referral: dict[str, object] = {}
    for field in FIELDS:
        if field.stored == Stored.NOT_STORED or field.column is None:
            continue
        kept = is_kept(field, answers)
        if kept:
            value = _stored_value(form, field)
        else:
            value = [] if field.stored == Stored.CODES else None
        holder = referral if field.on_referral else values
        holder[field.column] = value
        if field.extension_column:
            # Set by the phone's validator with the number; None when there is none.
            extension = getattr(form[field.form_field], "extension", None) if kept else None
            holder[field.extension_column] = extension
    referred = answers["has_referral"] == YesNo.YES
    return NewRequest(
        **values,  # type: ignore[arg-type]
        form_language=form_language or language_of(request.environ),
        referral=ReferralDetails(**referral) if referred else None,  # type: ignore[arg-type]
    )
