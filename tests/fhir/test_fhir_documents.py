"""Each clean record the person sent travels in the request's bundle as a validated R4
DocumentReference with its bytes; held ones never do."""

from __future__ import annotations

import base64
import hashlib
import json

from app.fhir.bundle import problems
from app.models import RequestDocument, StaffRole
from tests.fhir.r4 import r4_problems
from tests.support.staff import csrf_from, make_request, signed_in_client


def _document(request_id: int, kind: str, status: str, content: bytes) -> RequestDocument:
    return RequestDocument(
        request_id=request_id,
        kind=kind,
        sha256=hashlib.sha256(content).hexdigest(),
        content_type="application/pdf",
        size=len(content),
        scan_status=status,
        content=content,
    )


def test_clean_documents_are_validated_document_references_and_held_ones_are_left_out(app, db):
    row = make_request(db)
    reference, request_id = row.reference, row.id
    report = b"%PDF-1.4 pathology"
    db.add(_document(request_id, "pathology", "clean", report))
    db.add(_document(request_id, "imaging", "flagged", b"%PDF-1.4 eicar"))
    db.add(_document(request_id, "insurance_front", "pending", b"%PDF-1.4 waiting"))
    db.commit()
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = admin.get(f"/staff/requests/{reference}").get_data(as_text=True)
    download = admin.post(f"/staff/requests/{reference}/fhir", data={"csrf_token": csrf_from(page)})
    bundle = json.loads(download.get_data(as_text=True))
    assert problems(bundle) == []
    assert r4_problems(bundle) == []
    references = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DocumentReference"
    ]
    assert len(references) == 1
    [document] = references
    assert r4_problems(document) == []
    attachment = document["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]) == report
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(report).digest()).decode()
    assert document["type"]["coding"] == [{"system": "http://loinc.org", "code": "11526-1"}]
    assert "Santos" not in attachment["title"]
    patient_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert document["subject"]["reference"] == patient_url
