"""Every request the form can store leaves as a bundle FHIR R4 accepts: the R4 models of
tests/fhir/r4.py over requests drawn across every answer (hypothesis), since the app's own
export checks only the rules those models do not (app/fhir/bundle.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.fhir.bundle import problems, request_bundle
from app.models import AppointmentRequest, Referral, StaffRole, StaffUser
from app.vocabulary import (
    BestTime,
    CallFirst,
    CloseReason,
    ContactMethod,
    Insurance,
    Language,
    MetastasisSite,
    PageLanguage,
    RequestStatus,
    Sex,
    UsState,
    YesNoNotSure,
)
from tests.fhir.examples import SETTINGS
from tests.fhir.r4 import r4_problems

# Bounded: a few seconds, every answer met many times over (the whole-form fuzz is in
# tests/ops/test_fuzz.py).
EXAMPLES = 60

text = (
    st.text(st.characters(categories=["L", "N", "P", "Zs"]), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)
maybe_text = st.none() | text
phone = st.sampled_from(["+18135550123", "+17275550142", "+13055550100"])
extension = st.none() | st.sampled_from(["9", "204", "1234567890"])
email = st.none() | st.sampled_from(["maria@example.com", "ana.santos+intake@example.org"])


def codes(vocabulary) -> st.SearchStrategy[str]:
    # Members, as the models load them (a StrEnum is its code as well).
    return st.sampled_from(list(vocabulary))


@st.composite
def requests(draw) -> AppointmentRequest:
    by_patient = draw(st.booleans())
    language = draw(codes(Language))
    status = draw(codes(RequestStatus))
    referral = draw(st.booleans())
    row = AppointmentRequest(
        id=draw(st.integers(min_value=1, max_value=2**31 - 1)),
        reference="K7QM4XPD9RTA",
        submission_token="t",
        status=RequestStatus(status),
        submitted_at=datetime(2026, 11, 20, 14, 3, tzinfo=UTC),
        submitted_by_patient=by_patient,
        submitter_name=None if by_patient else draw(text),
        submitter_relationship=None if by_patient else draw(text),
        submitter_phone=None if by_patient else draw(phone),
        submitter_phone_ext=None if by_patient else draw(extension),
        submitter_email=None if by_patient else draw(email),
        call_first=None if by_patient else draw(codes(CallFirst)),
        first_name=draw(text),
        last_name=draw(text),
        date_of_birth=draw(st.none() | st.dates(date(1906, 1, 1), date(2026, 11, 19))),
        sex=draw(st.none() | codes(Sex)),
        email=draw(email),
        phone=draw(phone),
        phone_ext=draw(extension),
        contact_method=draw(codes(ContactMethod)),
        best_time_to_call=draw(codes(BestTime)),
        state=draw(codes(UsState)),
        zip_code=draw(st.sampled_from(["33612", "33612-9416"])),
        language=language,
        language_other=draw(text) if language == Language.OTHER else None,
        interpreter_needed=draw(st.booleans()),
        diagnosed_metastatic=draw(codes(YesNoNotSure)),
        metastasis_sites=draw(
            st.lists(st.sampled_from([m.value for m in MetastasisSite]), unique=True, max_size=4)
        ),
        in_treatment=draw(st.booleans()),
        insurance_type=draw(codes(Insurance)),
        insurance_carrier=draw(maybe_text),
        has_referral=referral,
        message=draw(maybe_text),
        consent_to_contact=True,
        form_language=draw(codes(PageLanguage)),
        closed_reason=draw(codes(CloseReason)) if status == RequestStatus.CLOSED else None,
        closed_at=datetime(2026, 11, 25, tzinfo=UTC) if status == RequestStatus.CLOSED else None,
        claimed_at=None,
    )
    row.referral = (
        Referral(
            physician_name=draw(text),
            physician_phone=draw(phone),
            physician_phone_ext=draw(extension),
            practice=draw(maybe_text),
            fax=draw(st.none() | phone),
            email=draw(email),
            npi=draw(st.none() | st.just("1234567893")),
        )
        if referral
        else None
    )
    if status != RequestStatus.NEW and draw(st.booleans()):
        row.claimed_by = StaffUser(
            id=7, name=draw(text), email="c@example.org", role=StaffRole.INTAKE
        )
        row.claimed_at = datetime(2026, 11, 21, tzinfo=UTC)
    else:
        row.claimed_by = None
    return row


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_request_leaves_as_a_bundle_r4_accepts(row):
    bundle = request_bundle(row, settings=SETTINGS)
    assert problems(bundle) == []
    assert r4_problems(bundle) == []
