"""Each request as a FHIR R4 transaction Bundle: valid for the R4 models (tests/fhir/r4.py),
every reference resolving, every coded answer mapped, the same ids every time, and the
golden example in docs/ still what the code produces."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from app import vocabulary
from app.fhir import codes
from app.fhir.bundle import BundleInvalid, problems, request_bundle, validate_bundle
from app.models import AppointmentRequest, CloseReason, RequestStatus
from app.requests import request_work
from tests.fhir.examples import EXAMPLE_CHANGED, SETTINGS, example_request
from tests.fhir.r4 import parse, r4_problems
from tests.support.staff import a_referral, make_request, make_staff

GOLDEN = Path(__file__).resolve().parents[2] / "docs" / "fhir-example-bundle.json"


def by_type(bundle: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry)
    return found


def resolve(bundle: dict, reference: dict) -> dict:
    (entry,) = [e for e in bundle["entry"] if e["fullUrl"] == reference["reference"]]
    return entry["resource"]


def the(bundle: dict, kind: str) -> dict:
    (entry,) = by_type(bundle)[kind]
    return entry["resource"]


# Every branch of the form and every status: each value of each column appears at least
# once (the columns cycle independently), and every close reason is covered.
STATUSES = [(s, None) for s in RequestStatus if s != RequestStatus.CLOSED] + [
    (RequestStatus.CLOSED, reason) for reason in CloseReason
]
CASES = [
    {
        "submitter": ("patient", "someone_else")[i % 2],
        "referral": bool(i // 2 % 2),
        "insurance": list(vocabulary.Insurance.values())[i % len(vocabulary.Insurance)],
        "language": list(vocabulary.Language.values())[i % 3],
        "sex": list(vocabulary.Sex.values())[i % 3],
        "status": STATUSES[i % len(STATUSES)],
        "sites": [["lungs"], ["liver", "brain"], ["bones"], ["other"], ["not_sure"]][i % 5],
        "diagnosed": ("yes", "yes", "not_sure", "no")[i % 4],
    }
    for i in range(max(len(STATUSES), 10))
]


def make_case(db, case: dict, staff_id: int) -> AppointmentRequest:
    caregiver = case["submitter"] == "someone_else"
    insurance = case["insurance"]
    row = make_request(
        db,
        submitted_at=datetime.now(UTC) - timedelta(days=3),
        submitted_by_patient=not caregiver,
        submitter_name="Ana Santos" if caregiver else None,
        submitter_relationship="Daughter" if caregiver else None,
        submitter_phone="+18135550199" if caregiver else None,
        referral=a_referral() if case["referral"] else None,
        insurance_type=insurance,
        insurance_carrier=(
            "Florida Blue" if insurance in ("commercial", "medicare_advantage", "other") else None
        ),
        language=case["language"],
        language_other="Tagalog" if case["language"] == "other" else None,
        sex=case["sex"],
        interpreter_needed=case["language"] != "english",
        diagnosed_metastatic=case["diagnosed"],
        metastasis_sites=case["sites"] if case["diagnosed"] == "yes" else [],
        message="Call after 10, please." if case["referral"] else None,
    )
    status, reason = case["status"]
    now = datetime.now(UTC)
    claimed = status != RequestStatus.NEW
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == row.id)
        .values(
            status=status,
            closed_reason=reason,
            closed_at=now if status == RequestStatus.CLOSED else None,
            claimed_by_id=staff_id if claimed else None,
            claimed_at=now - timedelta(hours=1) if claimed else None,
        )
    )
    db.commit()
    return request_work.find_request(db, reference=row.reference)


def test_every_branch_and_status_gives_a_valid_bundle(app, db):
    staff = make_staff(app, db)
    for case in CASES:
        row = make_case(db, case, staff.id)
        bundle = request_bundle(row, settings=SETTINGS)
        assert problems(bundle) == [], case
        assert r4_problems(bundle) == [], case
        assert bundle["type"] == "transaction"
        kinds = by_type(bundle)

        patient = the(bundle, "Patient")
        assert patient["gender"] == codes.SEX_TO_GENDER[case["sex"]]
        assert patient["birthDate"] == "1965-03-27"
        assert patient["name"] == [{"use": "official", "family": "Santos", "given": ["Maria"]}]
        assert patient["address"] == [{"state": "FL", "postalCode": "33612", "country": "US"}]
        (interpreter,) = patient["extension"]
        assert interpreter == {
            "url": "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired",
            "valueBoolean": case["language"] != "english",
        }
        (communication,) = patient["communication"]
        assert communication["preferred"] is True
        language = communication["language"]
        if case["language"] == "other":
            assert language == {"text": "Tagalog"}
        else:
            assert language["coding"][0]["system"] == "urn:ietf:bcp:47"
            assert (
                language["coding"][0]["code"]
                == {"english": "en", "spanish": "es"}[case["language"]]
            )

        service = the(bundle, "ServiceRequest")
        requester = resolve(bundle, service["requester"])
        if case["referral"]:
            assert service["intent"] == "order"
            assert requester["resourceType"] == "Practitioner"
            assert requester["identifier"] == [
                {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}
            ]
            role = the(bundle, "PractitionerRole")
            assert resolve(bundle, role["organization"])["name"] == "Bayside Oncology"
        else:
            assert service["intent"] == "proposal"
            assert "Practitioner" not in kinds
        if case["submitter"] == "someone_else":
            person = the(bundle, "RelatedPerson")
            assert person["relationship"] == [{"text": "Daughter"}]
            assert person["telecom"] == [{"system": "phone", "value": "+18135550199"}]
            assert resolve(bundle, person["patient"]) is patient
            if not case["referral"]:
                assert requester is person
        else:
            assert "RelatedPerson" not in kinds
            if not case["referral"]:
                assert requester is patient
        assert (
            service["identifier"][0]["value"]
            == row.reference[:4] + "-" + row.reference[4:8] + "-" + row.reference[8:]
        )
        assert resolve(bundle, service["subject"]) is patient

        coverage = the(bundle, "Coverage")
        assert [c["code"] for c in coverage["type"].get("coding", [])] == [
            c["code"] for c in codes.INSURANCE[case["insurance"]]
        ]
        payor = resolve(bundle, coverage["payor"][0])
        if case["insurance"] == "none":
            assert payor is patient
        else:
            assert payor["resourceType"] == "Organization"
        assert resolve(bundle, service["insurance"][0]) is coverage

        status, reason = case["status"]
        task = the(bundle, "Task")
        expected = (
            codes.CLOSE_REASON_TASK_STATUS[reason.value]
            if reason
            else codes.TASK_STATUS[status.value]
        )
        assert task["status"] == expected
        assert task["businessStatus"]["coding"][0]["code"] == status.value
        assert resolve(bundle, task["focus"]) is service
        assert service["status"] == codes.SERVICE_REQUEST_STATUS[status.value]
        if status == RequestStatus.NEW:
            assert "owner" not in task
        else:
            assert task["owner"]["display"] == "Casey Intake"
            assert task["owner"]["identifier"]["value"] == str(staff.id)
        if reason:
            assert task["statusReason"]["coding"][0]["code"] == reason.value

        answers = {i["linkId"]: i["answer"] for i in the(bundle, "QuestionnaireResponse")["item"]}
        assert answers["insurance_type"][0]["valueCoding"]["code"] == case["insurance"]
        assert answers["consent"] == [{"valueBoolean": True}]


def test_the_newer_answers_travel_in_the_bundle(app, db):
    row = make_request(
        db,
        submitted_by_patient=False,
        submitter_name="Ana Santos",
        submitter_relationship="Daughter",
        submitter_phone="+18135550199",
        submitter_phone_ext="31",
        submitter_email="ana@example.com",
        call_first="caregiver",
        email=None,
        phone_ext="204",
        referral=a_referral_with_extension(),
        insurance_type="medicare_advantage",
        insurance_carrier="Humana Gold Plus",
        form_language="es",
    )
    bundle = request_bundle(
        request_work.find_request(db, reference=row.reference), settings=SETTINGS
    )
    assert problems(bundle) == []
    assert r4_problems(bundle) == []
    extension_of = {"url": codes.CONTACTPOINT_EXTENSION}
    patient = the(bundle, "Patient")
    # No e-mail given: no e-mail ContactPoint, never an empty one.
    (phone,) = patient["telecom"]
    assert phone["value"] == "+18135550123 ext. 204"
    assert {**extension_of, "valueString": "204"} in phone["extension"]
    person = the(bundle, "RelatedPerson")
    assert person["telecom"] == [
        {
            "system": "phone",
            "value": "+18135550199 ext. 31",
            "extension": [{**extension_of, "valueString": "31"}],
        },
        {"system": "email", "value": "ana@example.com"},
    ]
    practitioner = the(bundle, "Practitioner")
    assert practitioner["telecom"][0]["value"] == "+17275550142 ext. 9"
    coverage = the(bundle, "Coverage")
    assert [c["code"] for c in coverage["type"]["coding"]] == ["11"]
    assert resolve(bundle, coverage["payor"][0])["name"] == "Humana Gold Plus"
    items = the(bundle, "QuestionnaireResponse")["item"]
    answers = {i["linkId"]: i.get("answer", []) for i in items}
    assert answers["call_first"][0]["valueCoding"]["code"] == "caregiver"
    assert answers["submitter_email"] == [{"valueString": "ana@example.com"}]
    assert answers["phone"] == [{"valueString": "+18135550123 ext. 204"}]
    assert "email" not in answers  # an item with no answer is left out
    assert answers["form_language"][0]["valueCoding"]["code"] == "es"


def a_referral_with_extension():
    return dataclasses.replace(a_referral(), physician_phone_ext="9")


def test_the_reason_is_coded_only_where_the_answer_supports_it(app, db):
    staff = make_staff(app, db)
    spread = make_case(
        db, {**CASES[0], "diagnosed": "yes", "sites": ["bones", "not_sure"]}, staff.id
    )
    reasons = the(request_bundle(spread, settings=SETTINGS), "ServiceRequest")["reasonCode"]
    assert reasons[0]["coding"] == [
        {
            "system": "http://snomed.info/sct",
            "code": "254837009",
            "display": "Malignant neoplasm of breast",
        },
        {
            "system": "http://hl7.org/fhir/sid/icd-10-cm",
            "code": "C50.919",
            "display": "Malignant neoplasm of unspecified site of unspecified female breast",
        },
    ]
    assert {c["code"] for c in reasons[1]["coding"]} == {"94222008", "C79.51"}
    assert reasons[2] == {"text": "Not sure where it has spread"}

    unsure = make_case(
        db, {**CASES[0], "diagnosed": "not_sure", "sex": "prefer_not_to_say"}, staff.id
    )
    (reason,) = the(request_bundle(unsure, settings=SETTINGS), "ServiceRequest")["reasonCode"]
    assert "coding" not in reason
    assert "Not sure" in reason["text"]

    # Places ticked while unsure whether it has spread are not coded as metastases.
    ticked = make_case(db, {**CASES[0], "diagnosed": "yes", "sites": ["liver"]}, staff.id)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == ticked.id)
        .values(diagnosed_metastatic="not_sure")
    )
    db.commit()
    ticked = request_work.find_request(db, reference=ticked.reference)
    reasons = the(request_bundle(ticked, settings=SETTINGS), "ServiceRequest")["reasonCode"]
    assert reasons[1] == {"text": "Spread to the liver"}


def test_the_same_request_always_gives_the_same_ids(app, db):
    staff = make_staff(app, db)
    first = make_case(db, CASES[3], staff.id)
    once = request_bundle(first, settings=SETTINGS)
    again = request_work.find_request(db, reference=first.reference)
    assert request_bundle(again, settings=SETTINGS) == once
    urls = {e["fullUrl"] for e in once["entry"]}
    assert all(url.startswith("urn:uuid:") for url in urls)
    second = make_case(db, CASES[3], staff.id)
    other = {e["fullUrl"] for e in request_bundle(second, settings=SETTINGS)["entry"]}
    assert urls.isdisjoint(other)


@pytest.mark.parametrize(
    ("answer", "mapping"),
    [
        (vocabulary.Sex, codes.SEX_TO_GENDER),
        (vocabulary.Language, codes.LANGUAGE),
        (vocabulary.ContactMethod, codes.CONTACT_METHOD_PREFERRED),
        (vocabulary.BestTime, codes.BEST_TIME),
        (vocabulary.YesNoNotSure, codes.DIAGNOSED_METASTATIC),
        (vocabulary.YesNoNotSure, codes.DIAGNOSED_METASTATIC_TEXT),
        (vocabulary.Sex, codes.BREAST_CANCER_ICD10CM),
        (vocabulary.MetastasisSite, codes.SITES),
        (vocabulary.MetastasisSite, codes.SITES_TEXT),
        (vocabulary.Insurance, codes.INSURANCE),
    ],
)
def test_every_coded_answer_has_exactly_one_mapping(answer, mapping):
    assert set(mapping) == set(answer.values())


def test_every_status_and_close_reason_is_mapped():
    assert set(codes.TASK_STATUS) == {s.value for s in RequestStatus}
    assert set(codes.SERVICE_REQUEST_STATUS) == {s.value for s in RequestStatus}
    assert set(codes.CLOSE_REASON_TASK_STATUS) == {r.value for r in CloseReason}


def test_the_checks_refuse_broken_bundles():
    good = request_bundle(example_request(), settings=SETTINGS, changed=EXAMPLE_CHANGED)

    dangling = copy.deepcopy(good)
    the(dangling, "Task")["focus"] = {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}
    assert any("does not resolve" in p for p in problems(dangling))

    bad_code = copy.deepcopy(good)
    the(bad_code, "Patient")["gender"] = "woman"
    assert problems(bad_code) == ["Patient.gender 'woman' is not an R4 code"]

    with pytest.raises(BundleInvalid, match="woman"):
        validate_bundle(bad_code)

    # What R4's structure requires, the R4 models of the tests refuse.
    missing = copy.deepcopy(good)
    del the(missing, "Task")["intent"]
    assert any('"intent"' in p for p in r4_problems(missing))
    no_payor = copy.deepcopy(good)
    del the(no_payor, "Coverage")["payor"]
    assert any('"payor"' in p for p in r4_problems(no_payor))
    wrong_type = copy.deepcopy(good)
    the(wrong_type, "Patient")["birthDate"] = "27/03/1965"
    assert r4_problems(wrong_type) != []


def test_the_bundle_survives_the_r4_models_round_trip():
    bundle = request_bundle(example_request(), settings=SETTINGS, changed=EXAMPLE_CHANGED)
    parsed = parse(json.loads(json.dumps(bundle)))
    assert parsed.as_json() == bundle
    assert parsed.entry[0].resource.resource_type == "Patient"


def test_the_golden_example_in_docs_is_what_the_code_produces():
    bundle = request_bundle(example_request(), settings=SETTINGS, changed=EXAMPLE_CHANGED)
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("FHIR_WRITE_EXAMPLE") == "1":
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.read_text(encoding="utf-8") == text, (
        "docs/fhir-example-bundle.json is out of date: rerun this test with FHIR_WRITE_EXAMPLE=1"
        " and review the difference"
    )
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert problems(golden) == []
    assert r4_problems(golden) == []
