"""A request as a FHIR R4 transaction Bundle, checked before it leaves.

The Bundle is a plain dict in FHIR JSON form. ``request_bundle`` builds it and checks it
with ``validate_bundle``'s rules (required code bindings, unique urn:uuid fullUrls, every
reference resolving inside the bundle). A bundle that fails is a bug here, never the
patient's doing, so it raises instead of being sent. R4's structure (types, cardinality,
required elements) is checked by the tests with R4 models the app does not load: a worker
carries no FHIR library (docs/fhir.md).

Every ``fullUrl`` is a ``urn:uuid:`` derived (uuid5) from the settings' system base, the
resource type and the request's id: the same request always gives the same ids, so an
EHR that receives a request twice can tell.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.fhir import codes
from app.models import AppointmentRequest
from app.requests import reference_codes
from app.requests.fields import FIELDS, RequestField, answer_given, is_coded, stored_answer
from app.vocabulary import CloseReason, DocumentKind, Insurance, Language, RequestStatus

Resource = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class FhirSettings:
    # A URL the center owns: it names our identifier systems and code systems, and
    # seeds the fullUrl uuids (docs/fhir.md).
    system_base: str

    def sid(self, name: str) -> str:
        return f"{self.system_base.rstrip('/')}/sid/{name}"

    def code_system(self, name: str) -> str:
        return f"{self.system_base.rstrip('/')}/CodeSystem/{name}"


class BundleInvalid(RuntimeError):
    """The bundle we built breaks FHIR R4 or our own rules: a bug in the mapping."""


def full_url(settings: FhirSettings, resource_type: str, request_id: int, part: str = "") -> str:
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, settings.system_base)
    return f"urn:uuid:{uuid.uuid5(namespace, f'{resource_type}/{request_id}/{part}')}"


def instant(value: datetime) -> str:
    # "+00:00" rather than "Z": both are FHIR (an instant with its offset).
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _row_changed(row: AppointmentRequest) -> datetime:
    """The latest time the request itself records; export.last_changed adds its history."""
    times = [t for t in (row.submitted_at, row.claimed_at, row.closed_at) if t is not None]
    return max(times)


def _concept(codings: tuple[codes.Coding, ...] | list[codes.Coding], text: str) -> Resource:
    concept: Resource = {"text": text}
    if codings:
        concept["coding"] = [dict(c) for c in codings]
    return concept


def _ref(url: str, display: str | None = None) -> Resource:
    reference: Resource = {"reference": url}
    if display:
        reference["display"] = display
    return reference


class _Builder:
    def __init__(self, row: AppointmentRequest, settings: FhirSettings, changed: datetime):
        self.row = row
        self.settings = settings
        self.changed = changed
        self.reference = reference_codes.display(row.reference)
        self.entries: list[Resource] = []
        self.urls = {
            name: full_url(settings, name, row.id)
            for name in (
                "Patient",
                "RelatedPerson",
                "Practitioner",
                "PractitionerRole",
                "Organization",
                "Coverage",
                "ServiceRequest",
                "Task",
                "QuestionnaireResponse",
            )
        }
        self.urls["Payer"] = full_url(settings, "Organization", row.id, "payer")

    def add(self, key: str, resource: Resource, if_none_exist: str | None = None) -> None:
        request: Resource = {"method": "POST", "url": resource["resourceType"]}
        if if_none_exist:
            # Conditional create: posting the same request twice makes no second copy.
            request["ifNoneExist"] = if_none_exist
        self.entries.append({"fullUrl": self.urls[key], "resource": resource, "request": request})

    def request_identifier(self) -> Resource:
        return {"system": self.settings.sid("intake-request"), "value": self.reference}

    # The resources, in the order an EHR needs them (referenced before referencing).

    def patient(self) -> None:
        row = self.row
        preferred = codes.CONTACT_METHOD_PREFERRED.get(row.contact_method, ())
        phone: Resource = {
            **_phone(row.phone, row.phone_ext),
            "rank": 1 if "phone" in preferred else 2,
        }
        best_time = codes.BEST_TIME.get(row.best_time_to_call)
        if best_time:
            phone.setdefault("extension", []).append(
                {
                    "url": codes.CONTACT_AVAILABLE_TIME,
                    "extension": [
                        {"url": name, **_typed_value(value)} for name, value in best_time.items()
                    ],
                }
            )
        email = {"system": "email", "value": row.email, "rank": 1 if "email" in preferred else 2}
        language = codes.LANGUAGE.get(row.language)
        language_text = (
            row.language_other
            if row.language == "other" and row.language_other
            else Language.label_for(row.language) or row.language
        )
        identifier = {"system": self.settings.sid("intake-patient"), "value": self.reference}
        patient: Resource = {
            "resourceType": "Patient",
            "meta": {"profile": [codes.PROFILE_PATIENT]},
            "extension": [
                {"url": codes.INTERPRETER_REQUIRED, "valueBoolean": bool(row.interpreter_needed)}
            ],
            "identifier": [identifier],
            "name": [{"use": "official", "family": row.last_name, "given": [row.first_name]}],
            "telecom": [c for c in (phone, email) if c["value"]],
            "gender": codes.SEX_TO_GENDER.get(row.sex or "", "unknown"),
            "address": [{"state": row.state, "postalCode": row.zip_code, "country": "US"}],
            "communication": [
                {
                    "language": _concept([language] if language else [], language_text),
                    "preferred": True,
                }
            ],
        }
        if row.date_of_birth:
            patient["birthDate"] = row.date_of_birth.isoformat()
        self.add("Patient", patient, _search(identifier))

    def related_person(self) -> None:
        row = self.row
        if row.submitted_by_patient:
            return
        person: Resource = {
            "resourceType": "RelatedPerson",
            "meta": {"profile": [codes.PROFILE_RELATED_PERSON]},
            "active": True,
            "patient": _ref(self.urls["Patient"]),
        }
        if row.submitter_relationship:
            person["relationship"] = [{"text": row.submitter_relationship}]
        if row.submitter_name:
            person["name"] = [{"text": row.submitter_name}]
        # Rank 1 is the way to reach this person first; who is called first (the patient
        # or this person) is the QuestionnaireResponse's call_first answer.
        telecom: list[Resource] = []
        if row.submitter_phone:
            telecom.append(_phone(row.submitter_phone, row.submitter_phone_ext))
        if row.submitter_email:
            telecom.append({"system": "email", "value": row.submitter_email})
        if telecom:
            person["telecom"] = telecom
        self.add("RelatedPerson", person)

    def referral(self) -> None:
        referral = self.row.referral if self.row.has_referral else None
        if referral is None:
            return
        telecom = [
            {**_phone(referral.physician_phone, referral.physician_phone_ext), "use": "work"}
        ]
        if referral.fax:
            telecom.append({"system": "fax", "value": referral.fax, "use": "work"})
        if referral.email:
            telecom.append({"system": "email", "value": referral.email, "use": "work"})
        # Not claimed as US Core Practitioner: that profile needs name.family, and the
        # form asks for the physician's name as one line of text.
        practitioner: Resource = {
            "resourceType": "Practitioner",
            "name": [{"text": referral.physician_name}],
            "telecom": telecom,
        }
        if_none_exist = None
        if referral.npi:
            npi = {"system": codes.NPI_SYSTEM, "value": referral.npi}
            practitioner["identifier"] = [npi]
            if_none_exist = _search(npi)
        self.add("Practitioner", practitioner, if_none_exist)
        if referral.practice:
            self.add(
                "Organization",
                {
                    "resourceType": "Organization",
                    "meta": {"profile": [codes.PROFILE_ORGANIZATION]},
                    "active": True,
                    "name": referral.practice,
                },
            )
            self.add(
                "PractitionerRole",
                {
                    "resourceType": "PractitionerRole",
                    "active": True,
                    "practitioner": _ref(self.urls["Practitioner"], referral.physician_name),
                    "organization": _ref(self.urls["Organization"], referral.practice),
                },
            )

    def coverage(self) -> None:
        row = self.row
        label = Insurance.label_for(row.insurance_type) or row.insurance_type
        if row.insurance_type == "none":
            # Self-pay: the patient pays, and is the payor FHIR requires.
            payor = _ref(self.urls["Patient"])
        else:
            name = row.insurance_carrier or codes.INSURANCE_PAYER_NAME.get(row.insurance_type)
            if not name:
                return
            self.add(
                "Payer",
                {
                    "resourceType": "Organization",
                    "meta": {"profile": [codes.PROFILE_ORGANIZATION]},
                    "active": True,
                    "name": name,
                },
            )
            payor = _ref(self.urls["Payer"], name)
        # Not claimed as US Core Coverage: it needs the subscriber relationship, which
        # the form does not ask. "active" is as the person told us, not yet verified.
        self.add(
            "Coverage",
            {
                "resourceType": "Coverage",
                "status": "active",
                "type": _concept(codes.INSURANCE.get(row.insurance_type, ()), label),
                "beneficiary": _ref(self.urls["Patient"]),
                "payor": [payor],
            },
        )

    def reasons(self) -> list[Resource]:
        row = self.row
        first_codes: list[codes.Coding] = []
        diagnosis = codes.DIAGNOSED_METASTATIC.get(row.diagnosed_metastatic)
        if diagnosis:
            first_codes.append(diagnosis)
            icd = codes.BREAST_CANCER_ICD10CM.get(row.sex or "")
            if icd:
                first_codes.append(icd)
        text = codes.DIAGNOSED_METASTATIC_TEXT.get(
            row.diagnosed_metastatic, row.diagnosed_metastatic
        )
        reasons = [_concept(first_codes, text)]
        # A site is coded as a metastasis only when the person says it has spread: ticked
        # beside "Not sure", it stays their words.
        spread = row.diagnosed_metastatic == "yes"
        for site in row.metastasis_sites or []:
            site_codes = codes.SITES.get(site, ()) if spread else ()
            reasons.append(_concept(site_codes, codes.SITES_TEXT.get(site, site)))
        return reasons

    def service_request(self) -> None:
        row = self.row
        referred = row.has_referral and row.referral is not None
        if referred:
            requester = _ref(self.urls["Practitioner"], row.referral.physician_name)
        elif row.submitted_by_patient:
            requester = _ref(self.urls["Patient"])
        else:
            requester = _ref(self.urls["RelatedPerson"])
        notes = [
            {
                "text": "Being treated for cancer now: "
                + ("yes" if row.in_treatment else "no")
                + " (as reported on the request form)"
            }
        ]
        if row.message:
            notes.append({"text": row.message})
        request: Resource = {
            "resourceType": "ServiceRequest",
            "meta": {"profile": [codes.PROFILE_SERVICE_REQUEST]},
            "identifier": [self.request_identifier()],
            "status": codes.SERVICE_REQUEST_STATUS[row.status.value],
            # A referral is a physician's order; a self-referral asks, and intake decides.
            "intent": "order" if referred else "proposal",
            "category": [_concept([codes.EVALUATION_PROCEDURE], "Evaluation")],
            "code": _concept([codes.CONSULTATION], "New-patient consultation"),
            "subject": _ref(self.urls["Patient"]),
            "authoredOn": instant(row.submitted_at),
            "requester": requester,
            "reasonCode": self.reasons(),
            "note": notes,
        }
        if any(e["fullUrl"] == self.urls["Coverage"] for e in self.entries):
            request["insurance"] = [_ref(self.urls["Coverage"])]
        self.add("ServiceRequest", request, _search(self.request_identifier()))

    def task(self) -> None:
        row = self.row
        status = codes.TASK_STATUS[row.status.value]
        label = RequestStatus(row.status).label
        if row.closed_reason is not None:
            status = codes.CLOSE_REASON_TASK_STATUS[row.closed_reason.value]
            label = f"{label} ({CloseReason(row.closed_reason).label})"
        task: Resource = {
            "resourceType": "Task",
            "identifier": [self.request_identifier()],
            "status": status,
            "businessStatus": _concept(
                [
                    codes.coding(
                        self.settings.code_system("intake-status"),
                        row.status.value,
                        RequestStatus(row.status).label,
                    )
                ],
                label,
            ),
            "intent": "order",
            "code": _concept(
                [
                    codes.coding(
                        "http://hl7.org/fhir/CodeSystem/task-code",
                        "fulfill",
                        "Fulfill the focal request",
                    )
                ],
                "Intake: contact the patient and book the consultation",
            ),
            "focus": _ref(self.urls["ServiceRequest"]),
            "for": _ref(self.urls["Patient"]),
            "authoredOn": instant(row.submitted_at),
            "lastModified": instant(self.changed),
        }
        if row.closed_reason is not None:
            task["statusReason"] = _concept(
                [
                    codes.coding(
                        self.settings.code_system("close-reason"),
                        row.closed_reason.value,
                        CloseReason(row.closed_reason).label,
                    )
                ],
                CloseReason(row.closed_reason).label,
            )
        if row.claimed_by is not None:
            # The staff member, named by our own identifier: intake staff are not
            # clinicians the EHR should get a Practitioner record for.
            task["owner"] = {
                "type": "Practitioner",
                "identifier": {
                    "system": self.settings.sid("staff"),
                    "value": str(row.claimed_by.id),
                },
                "display": row.claimed_by.name,
            }
            if row.claimed_at is not None:
                task["executionPeriod"] = {"start": instant(row.claimed_at)}
        self.add("Task", task, _search(self.request_identifier()))

    def document_reference(self, document: Any) -> None:
        """A record the person sent from the private page (issue 29), clean by clamd's
        scan, with its bytes inline: an EHR takes it as it takes a faxed report."""
        key = f"DocumentReference/{document.id}"
        self.urls[key] = full_url(self.settings, "DocumentReference", self.row.id, str(document.id))
        kind = DocumentKind(document.kind)
        self.add(
            key,
            {
                "resourceType": "DocumentReference",
                "identifier": [
                    {
                        "system": self.settings.sid("intake-document"),
                        "value": f"{self.reference}-{document.id}",
                    }
                ],
                "status": "current",
                "type": _document_type(kind),
                "subject": _ref(self.urls["Patient"]),
                "date": instant(document.received_at),
                "description": f"{kind.label}, sent by the patient or caregiver",
                "content": [
                    {
                        "attachment": {
                            "contentType": document.content_type,
                            "data": base64.b64encode(document.content).decode(),
                            "size": len(document.content),
                            # FHIR R4: the SHA-1 of the data, base64.
                            "hash": _sha1_base64(document.content),
                            "title": document.file_name,
                            "creation": instant(document.received_at),
                        }
                    }
                ],
                "context": {"related": [_ref(self.urls["ServiceRequest"])]},
            },
        )

    def questionnaire_response(self) -> None:
        row = self.row
        author = (
            _ref(self.urls["Patient"])
            if row.submitted_by_patient
            else _ref(self.urls["RelatedPerson"])
        )
        items = [item for item in _answers(row, self.settings) if item["answer"]]
        self.add(
            "QuestionnaireResponse",
            {
                "resourceType": "QuestionnaireResponse",
                "identifier": self.request_identifier(),
                "basedOn": [_ref(self.urls["ServiceRequest"])],
                "status": "completed",
                "subject": _ref(self.urls["Patient"]),
                "authored": instant(row.submitted_at),
                "author": author,
                "source": author,
                "item": items,
            },
        )


_LOINC = "http://loinc.org"


def _sha1_base64(data: bytes) -> str:
    # FHIR R4 names SHA-1 for Attachment.hash (an integrity check, not a security one).
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


def _document_type(kind: DocumentKind) -> Resource:
    codings = [{"system": _LOINC, "code": kind.code}] if kind.code else []
    # The label as staff read it (English), whatever the page's language.
    return _concept(codings, str(kind.label))


def _phone(number: str | None, extension: str | None) -> Resource:
    """A phone ContactPoint. FHIR allows an extension in the value's text ("+18135550123
    ext. 204"); the core contactpoint-extension carries it apart, for a system that dials.
    """
    if not extension:
        return {"system": "phone", "value": number}
    return {
        "system": "phone",
        "value": f"{number} ext. {extension}",
        "extension": [{"url": codes.CONTACTPOINT_EXTENSION, "valueString": extension}],
    }


def _typed_value(value: object) -> Resource:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    return {"valueTime": value}


def _search(identifier: Resource) -> str:
    return f"identifier={identifier['system']}|{identifier['value']}"


def _answers(row: AppointmentRequest, settings: FhirSettings) -> Iterator[Resource]:
    """Every answer of the question list (app/requests/fields.py), as given, for audit:
    the question's name as linkId and its label as text; coded answers keep our own code
    and label, a phone its extension."""
    for field in FIELDS:
        answer = answer_given(field, stored_answer(row, field))
        extension = stored_answer(row, field, extension=True) if field.extension_column else None
        yield {
            "linkId": field.name,
            "text": field.label,
            "answer": _answer_values(field, answer, extension, settings),
        }
    # Not a question: the language of the page the form was filled in on.
    language = codes.FORM_LANGUAGE.get(str(row.form_language))
    yield {
        "linkId": "form_language",
        "text": "Language of the form's page",
        "answer": [{"valueCoding": language}] if language else [],
    }


def _answer_values(
    field: RequestField, answer: object, extension: object, settings: FhirSettings
) -> list[Resource]:
    if answer is None or answer == []:
        return []
    if is_coded(field):
        chosen = answer if isinstance(answer, list) else [answer]
        return [
            {
                "valueCoding": codes.coding(
                    settings.code_system(field.name),
                    value,
                    field.vocabulary.label_for(value) or value,  # type: ignore[union-attr]
                )
            }
            for value in chosen
        ]
    if isinstance(answer, bool):
        return [{"valueBoolean": answer}]
    if isinstance(answer, date):
        return [{"valueDate": answer.isoformat()}]
    if isinstance(answer, str):
        return [{"valueString": _typed(answer, extension) if extension else answer}]
    # A new kind of answer must be given a FHIR type here, not dropped.
    raise BundleInvalid(f"no QuestionnaireResponse answer type for {field.name}")


def _typed(number: str, extension: object) -> str:
    return f"{number} ext. {extension}"


def request_bundle(
    row: AppointmentRequest,
    *,
    settings: FhirSettings,
    changed: datetime | None = None,
    documents: Sequence[Any] = (),
) -> Resource:
    """The request as a validated transaction Bundle. ``row`` needs its referral and
    claimer loaded; ``changed`` is when it last changed (its history included);
    ``documents`` are the clean records the person sent (app/records/documents.py's
    ``OpenedDocument``), each carried as a DocumentReference with its bytes."""
    builder = _Builder(row, settings, changed or _row_changed(row))
    builder.patient()
    builder.related_person()
    builder.referral()
    builder.coverage()
    builder.service_request()
    builder.task()
    builder.questionnaire_response()
    for document in documents:
        builder.document_reference(document)
    bundle = {
        "resourceType": "Bundle",
        "id": full_url(settings, "Bundle", row.id).removeprefix("urn:uuid:"),
        "type": "transaction",
        "entry": builder.entries,
    }
    validate_bundle(bundle)
    return bundle


# Required bindings that the R4 models accept any code for: (resource type, path) ->
# the codes FHIR R4 allows there.
REQUIRED_CODES: dict[tuple[str, str], frozenset[str]] = {
    ("Bundle", "type"): frozenset(
        {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        }
    ),
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("ContactPoint", "system"): frozenset(
        {"phone", "fax", "email", "pager", "url", "sms", "other"}
    ),
    ("ContactPoint", "use"): frozenset({"home", "work", "temp", "old", "mobile"}),
    ("Coverage", "status"): frozenset({"active", "cancelled", "draft", "entered-in-error"}),
    ("ServiceRequest", "status"): frozenset(
        {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
    ),
    ("ServiceRequest", "intent"): frozenset(
        {
            "proposal",
            "plan",
            "directive",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        }
    ),
    ("Task", "status"): frozenset(
        {
            "draft",
            "requested",
            "received",
            "accepted",
            "rejected",
            "ready",
            "cancelled",
            "in-progress",
            "on-hold",
            "failed",
            "completed",
            "entered-in-error",
        }
    ),
    ("Task", "intent"): frozenset(
        {
            "unknown",
            "proposal",
            "plan",
            "order",
            "original-order",
            "reflex-order",
            "filler-order",
            "instance-order",
            "option",
        }
    ),
    ("DocumentReference", "status"): frozenset({"current", "superseded", "entered-in-error"}),
    ("QuestionnaireResponse", "status"): frozenset(
        {"in-progress", "completed", "amended", "entered-in-error", "stopped"}
    ),
    ("HumanName", "use"): frozenset(
        {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}
    ),
    ("Bundle.request", "method"): frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}),
}


def _references(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield inner
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def problems(bundle: Resource) -> list[str]:
    """What is wrong with a bundle by the rules checked at every export: empty when they
    accept it. FHIR R4's structure (types, cardinality, required elements) is checked by
    the tests, on every shape of request, with R4 models the app does not load
    (tests/fhir/r4.py; docs/fhir.md says why)."""
    return _url_problems(bundle) + _code_problems(bundle)


def _url_problems(bundle: Resource) -> list[str]:
    """Unique urn:uuid fullUrls, and every reference resolving inside the bundle."""
    urls = [entry.get("fullUrl") for entry in bundle.get("entry") or []]
    found = []
    if len(set(urls)) != len(urls):
        found.append("two entries share a fullUrl")
    found += [
        f"fullUrl {url!r} is not a urn:uuid"
        for url in urls
        if not (isinstance(url, str) and url.startswith("urn:uuid:"))
    ]
    found += [
        f"reference {reference!r} does not resolve inside the bundle"
        for reference in _references(bundle)
        if reference not in urls
    ]
    return found


def _code_problems(bundle: Resource) -> list[str]:
    """The codes of required bindings, which R4 models accept any string for."""
    return [
        f"{kind}.{field} {value!r} is not an R4 code"
        for kind, field, value in _coded(bundle)
        if value is not None and value not in REQUIRED_CODES.get((kind, field), (value,))
    ]


def _coded(bundle: Resource) -> Iterator[tuple[str, str, object]]:
    """(type, element, value) for every element bound to a required value set."""
    yield "Bundle", "type", bundle.get("type")
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType", "")
        for field in ("gender", "status", "intent"):
            yield kind, field, resource.get(field)
        for point in resource.get("telecom") or []:
            yield "ContactPoint", "system", point.get("system")
            yield "ContactPoint", "use", point.get("use")
        for name in resource.get("name") or []:
            if isinstance(name, dict):
                yield "HumanName", "use", name.get("use")
        yield "Bundle.request", "method", (entry.get("request") or {}).get("method")


def validate_bundle(bundle: Resource) -> None:
    found = problems(bundle)
    if found:
        # The messages quote only codes and urn:uuid references: no patient data goes
        # into the exception.
        raise BundleInvalid("; ".join(found))
