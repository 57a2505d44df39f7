"""Turns a validated form into the service's NewRequest: the stored shape of each answer."""

from __future__ import annotations

from app.services.appointment_requests import NewRequest, ReferralDetails

from .forms import INSURANCE_WITH_CARRIER, AppointmentRequestForm


def _optional(value: str | None) -> str | None:
    return value or None


def to_new_request(form: AppointmentRequestForm) -> NewRequest:
    on_behalf = form.submitter.data == "someone_else"
    referral = None
    if form.has_referral.data == "yes":
        referral = ReferralDetails(
            physician_name=form.physician_name.data,
            physician_phone=form.physician_phone.normalized,
            practice=_optional(form.physician_practice.data),
            fax=getattr(form.physician_fax, "normalized", None),
            email=getattr(form.physician_email, "normalized", None),
            npi=_optional(form.physician_npi.data),
        )
    # An answer to a question that does not apply was never validated (the question was
    # hidden): it is dropped, never stored as posted.
    sites = (
        list(dict.fromkeys(form.metastasis_sites.data or []))
        if form.diagnosed_metastatic.data == "yes"
        else []
    )
    has_carrier = form.insurance_type.data in INSURANCE_WITH_CARRIER
    return NewRequest(
        submitted_by_patient=not on_behalf,
        submitter_name=form.submitter_name.data if on_behalf else None,
        submitter_relationship=form.submitter_relationship.data if on_behalf else None,
        submitter_phone=form.submitter_phone.normalized if on_behalf else None,
        first_name=form.first_name.data,
        last_name=form.last_name.data,
        date_of_birth=form.date_of_birth,
        sex=_optional(form.sex.data),
        email=form.email.normalized,
        phone=form.phone.normalized,
        contact_method=form.contact_method.data,
        best_time_to_call=form.best_time_to_call.data,
        state=form.state.data,
        zip_code=form.zip_code.normalized,
        language=form.language.data,
        language_other=form.language_other.data if form.language.data == "other" else None,
        interpreter_needed=form.interpreter_needed.data == "yes",
        diagnosed_metastatic=form.diagnosed_metastatic.data,
        metastasis_sites=sites,
        in_treatment=form.in_treatment.data == "yes",
        insurance_type=form.insurance_type.data,
        insurance_carrier=_optional(form.insurance_carrier.data) if has_carrier else None,
        message=_optional(form.message.data),
        consent_to_contact=bool(form.consent.data),
        referral=referral,
    )
