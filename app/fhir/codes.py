"""Our stored answers -> FHIR codes: one dict per coded answer, keyed by the stored value.

Written once, here, so that the vocabulary module (``app/vocabulary.py``) can take each
dict into its external-code slot. Every code below was looked up, not remembered; where
an answer supports no code (for example "Not sure"), the value is ``None`` and the
bundle carries the answer as text. docs/fhir.md has the same table for integrators.
"""

from __future__ import annotations

from typing import TypedDict


class Coding(TypedDict):
    system: str
    code: str
    display: str


# Code systems and identifier systems defined by others.
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
BCP47 = "urn:ietf:bcp:47"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
# PHDSC Source of Payment Typology, under the OID US Core's Coverage examples use.
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
COVERAGE_SELF_PAY = "http://terminology.hl7.org/CodeSystem/coverage-selfpay"

# Extensions.
INTERPRETER_REQUIRED = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
# HL7's (Da Vinci Plan-Net, R4) extension for when a contact point may be used; its parts
# mirror PractitionerRole.availableTime.
CONTACT_AVAILABLE_TIME = (
    "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/contactpoint-availabletime"
)

# US Core profiles (R4), claimed only where the resource meets them: see docs/fhir.md.
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
PROFILE_PATIENT = US_CORE + "us-core-patient"
PROFILE_RELATED_PERSON = US_CORE + "us-core-relatedperson"
PROFILE_ORGANIZATION = US_CORE + "us-core-organization"
PROFILE_SERVICE_REQUEST = US_CORE + "us-core-servicerequest"


def coding(system: str, code: str, display: str) -> Coding:
    return {"system": system, "code": code, "display": display}


# sex -> Patient.gender (administrative gender, a required binding). US Core requires a
# gender; "Prefer not to say" is the person declining to answer, which is "unknown".
SEX_TO_GENDER: dict[str, str] = {
    "female": "female",
    "male": "male",
    "prefer_not_to_say": "unknown",
}

# language -> Patient.communication.language (BCP 47). "Another language" carries the
# typed name as text.
LANGUAGE: dict[str, Coding | None] = {
    "english": coding(BCP47, "en", "English"),
    "spanish": coding(BCP47, "es", "Spanish"),
    "other": None,
}

# contact_method -> which ContactPoint systems get rank 1 (preferred); the other gets 2.
CONTACT_METHOD_PREFERRED: dict[str, tuple[str, ...]] = {
    "phone": ("phone",),
    "email": ("email",),
    "either": ("phone", "email"),
}

# best_time_to_call -> the phone ContactPoint's available-time extension: the form's own
# hours ("Morning (8 a.m. to noon)", "Afternoon (noon to 5 p.m.)"), local to the patient.
BEST_TIME: dict[str, dict[str, object]] = {
    "morning": {"availableStartTime": "08:00:00", "availableEndTime": "12:00:00"},
    "afternoon": {"availableStartTime": "12:00:00", "availableEndTime": "17:00:00"},
    "any": {"allDay": True},
}

# diagnosed_metastatic -> ServiceRequest.reasonCode for the breast cancer itself. Only
# "yes" supports a code; the ICD-10-CM code depends on sex (below).
DIAGNOSED_METASTATIC: dict[str, Coding | None] = {
    "yes": coding(SNOMED, "254837009", "Malignant neoplasm of breast"),
    "no": None,
    "not_sure": None,
}
DIAGNOSED_METASTATIC_TEXT: dict[str, str] = {
    "yes": "Metastatic breast cancer (as reported on the request form)",
    "no": "Not diagnosed with breast cancer that has spread (as reported on the request form)",
    "not_sure": "Not sure whether the breast cancer has spread (as reported on the request form)",
}
# sex -> ICD-10-CM for breast cancer, site and side not known. ICD-10-CM has no code for
# breast cancer without the patient's sex, so "Prefer not to say" gets SNOMED CT alone.
BREAST_CANCER_ICD10CM: dict[str, Coding | None] = {
    "female": coding(
        ICD10CM, "C50.919", "Malignant neoplasm of unspecified site of unspecified female breast"
    ),
    "male": coding(
        ICD10CM, "C50.929", "Malignant neoplasm of unspecified site of unspecified male breast"
    ),
    "prefer_not_to_say": None,
}

# metastasis_sites -> a ServiceRequest.reasonCode per site: the secondary (metastatic)
# neoplasm of that site, in SNOMED CT and ICD-10-CM.
SITES: dict[str, tuple[Coding, ...]] = {
    "lungs": (
        coding(SNOMED, "94391008", "Secondary malignant neoplasm of lung"),
        coding(ICD10CM, "C78.00", "Secondary malignant neoplasm of unspecified lung"),
    ),
    "liver": (
        coding(SNOMED, "94381002", "Secondary malignant neoplasm of liver"),
        coding(
            ICD10CM, "C78.7", "Secondary malignant neoplasm of liver and intrahepatic bile duct"
        ),
    ),
    "bones": (
        coding(SNOMED, "94222008", "Secondary malignant neoplasm of bone"),
        coding(ICD10CM, "C79.51", "Secondary malignant neoplasm of bone"),
    ),
    "brain": (
        coding(SNOMED, "94225005", "Secondary malignant neoplasm of brain"),
        coding(ICD10CM, "C79.31", "Secondary malignant neoplasm of brain"),
    ),
    # Spread, to a place the person did not name.
    "other": (
        coding(SNOMED, "128462008", "Secondary malignant neoplastic disease"),
        coding(ICD10CM, "C79.9", "Secondary malignant neoplasm of unspecified site"),
    ),
    "not_sure": (),
}
SITES_TEXT: dict[str, str] = {
    "lungs": "Spread to the lungs",
    "liver": "Spread to the liver",
    "bones": "Spread to the bones",
    "brain": "Spread to the brain",
    "other": "Spread somewhere else (site not given)",
    "not_sure": "Not sure where it has spread",
}

# insurance_type -> Coverage.type. "Other insurance" has no payer-type code that fits.
INSURANCE: dict[str, tuple[Coding, ...]] = {
    "commercial": (coding(SOPT, "5", "PRIVATE HEALTH INSURANCE"),),
    "medicare": (coding(SOPT, "1", "MEDICARE"),),
    # A Medicare plan run by a private company (Medicare Part C).
    "medicare_advantage": (coding(SOPT, "11", "Medicare (Managed Care)"),),
    "medicaid": (coding(SOPT, "2", "MEDICAID"),),
    "other": (),
    "none": (coding(COVERAGE_SELF_PAY, "pay", "Pay"),),
}
# insurance_type -> the payer's name when the form asks for no carrier name.
INSURANCE_PAYER_NAME: dict[str, str] = {"medicare": "Medicare", "medicaid": "Medicaid"}

# A phone's extension, kept apart as well as in the ContactPoint's value (the core
# extension "the number that may be dialed ... after connecting to a private network").
CONTACTPOINT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/contactpoint-extension"

# The page a request was made on (PageLanguage) -> BCP 47.
FORM_LANGUAGE: dict[str, Coding] = {
    "en": coding(BCP47, "en", "English"),
    "es": coding(BCP47, "es", "Spanish"),
}

# What the request is for: a new-patient consultation.
CONSULTATION = coding(SNOMED, "11429006", "Consultation")
# US Core ServiceRequest category.
EVALUATION_PROCEDURE = coding(SNOMED, "386053000", "Evaluation procedure")

# Our request status -> Task.status (a required binding) and ServiceRequest.status. Our
# finer states travel as Task.businessStatus; a closed request's Task.status depends on
# why it was closed (CLOSE_REASON_TASK_STATUS).
TASK_STATUS: dict[str, str] = {
    "new": "requested",  # waiting in the queue, nobody holds it
    "in_progress": "in-progress",  # claimed by a staff member
    "contacted": "in-progress",  # we reached the patient; not yet booked
    # We reached the patient and wait for their records (from another provider) before
    # booking: the work is paused on someone else.
    "awaiting_records": "on-hold",
    "scheduled": "completed",  # the intake work is done: an appointment is booked
    "closed": "cancelled",  # refined below
}
CLOSE_REASON_TASK_STATUS: dict[str, str] = {
    "declined": "cancelled",  # the patient did not want to go ahead
    "unable_to_reach": "failed",  # tried, could not complete
    "not_eligible": "rejected",  # the center decided not to take it on
    "duplicate": "cancelled",  # the work goes on under the other request
    "other": "cancelled",
}
SERVICE_REQUEST_STATUS: dict[str, str] = {
    "new": "active",
    "in_progress": "active",
    "contacted": "active",
    "awaiting_records": "active",
    # The consultation asked for has not happened yet: the request stays active.
    "scheduled": "active",
    "closed": "revoked",
}
