"""A request built in memory (no database) with every part a bundle can have: the source
of the golden example in docs/fhir-example-bundle.json."""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.fhir.bundle import FhirSettings
from app.models import AppointmentRequest, Referral, RequestStatus, StaffRole, StaffUser

SETTINGS = FhirSettings(system_base="https://intake.example.org/fhir")


def example_request() -> AppointmentRequest:
    row = AppointmentRequest(
        id=1001,
        reference="K7QM4XPD9RTA",
        submission_token="example",
        status=RequestStatus.IN_PROGRESS,
        submitted_at=datetime(2026, 11, 20, 14, 3, tzinfo=UTC),
        submitted_by_patient=False,
        submitter_name="Ana Santos",
        submitter_relationship="Daughter",
        submitter_phone="+18135550199",
        submitter_phone_ext="12",
        submitter_email="ana.santos@example.com",
        call_first="caregiver",
        first_name="Maria",
        last_name="Santos",
        date_of_birth=date(1965, 3, 27),
        sex="female",
        email="maria.santos@example.com",
        phone="+18135550123",
        contact_method="phone",
        best_time_to_call="morning",
        state="FL",
        zip_code="33612-9416",
        language="spanish",
        language_other=None,
        interpreter_needed=True,
        diagnosed_metastatic="yes",
        metastasis_sites=["bones", "liver"],
        in_treatment=True,
        insurance_type="commercial",
        insurance_carrier="Florida Blue",
        has_referral=True,
        message="Please call my daughter's number first.",
        consent_to_contact=True,
        form_language="es",
        claimed_at=datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
    )
    row.referral = Referral(
        physician_name="Dr. Alan O'Neil",
        physician_phone="+17275550142",
        practice="Bayside Oncology",
        fax="+17275550199",
        email="referrals@bayside.example.org",
        npi="1234567893",
    )
    row.claimed_by = StaffUser(
        id=7, name="Casey Intake", email="casey@example.org", role=StaffRole.INTAKE
    )
    return row


EXAMPLE_CHANGED = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
