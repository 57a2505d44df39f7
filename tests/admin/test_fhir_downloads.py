"""Admin-only FHIR downloads on the staff side: one request's Bundle and the bulk export,
never cached, always in the audit trail, refused to intake staff."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from app.admin import fhir_views
from app.fhir.bundle import problems
from app.models import AuditEvent, StaffRole
from tests.fhir.r4 import r4_problems
from tests.intake.test_staff_pages import check_page
from tests.support.html import error_summary
from tests.support.staff import a_referral, csrf_from, make_request, signed_in_client


def fhir_audit(db) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "fhir_export")))


def test_admin_downloads_a_request_as_a_valid_bundle(app, db):
    row = make_request(db, referral=a_referral())
    admin, ada = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = admin.get(f"/staff/requests/{row.reference}").get_data(as_text=True)
    # A posted form, never a link (app/auth/downloads.py).
    assert f'action="/staff/requests/{row.reference}/fhir"' in page
    assert "Download as FHIR" in page
    assert admin.get(f"/staff/requests/{row.reference}/fhir").status_code == 405

    response = admin.post(
        f"/staff/requests/{row.reference}/fhir", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.get_data(as_text=True)
    bundle = json.loads(text)
    assert problems(bundle) == []
    # The downloaded JSON through the R4 models and back: valid, and nothing lost.
    assert r4_problems(bundle) == []
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert "Practitioner" in kinds and kinds[0] == "Patient"

    (event,) = fhir_audit(db)
    assert event.staff_id == ada.id
    assert event.request_id == row.id
    assert "Santos" not in (event.detail or "")


def test_intake_staff_get_no_fhir_download(app, db):
    row = make_request(db)
    intake, _ = signed_in_client(app, db)
    page = intake.get(f"/staff/requests/{row.reference}").get_data(as_text=True)
    assert "Download as FHIR" not in page
    assert "FHIR export" not in page
    token = {"csrf_token": csrf_from(page)}
    assert intake.post(f"/staff/requests/{row.reference}/fhir", data=token).status_code == 403
    assert intake.get("/staff/fhir-export").status_code == 403
    assert intake.post("/staff/fhir-export", data=token).status_code == 403
    assert fhir_audit(db) == []


def test_an_unknown_request_is_not_found(app, db):
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    token = {"csrf_token": csrf_from(admin.get("/staff/queue").get_data(as_text=True))}
    assert admin.post("/staff/requests/AAAABBBBCCCC/fhir", data=token).status_code == 404
    assert fhir_audit(db) == []


def test_admin_downloads_the_bulk_export_as_a_zip(app, db):
    make_request(db, last_name="Santos")
    make_request(db, last_name="Rivera", referral=a_referral())
    admin, ada = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = admin.get("/staff/fhir-export")
    assert page.status_code == 200
    assert "Requests changed since" in page.get_data(as_text=True)
    response = admin.post(
        "/staff/fhir-export",
        data={"since": "2026-01-01", "csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert "manifest.json" in archive.namelist()
    patients = archive.read("Patient.ndjson").decode().splitlines()
    assert {json.loads(line)["name"][0]["family"] for line in patients} == {"Santos", "Rivera"}
    manifest = json.loads(archive.read("manifest.json"))
    assert {o["url"] for o in manifest["output"]} <= set(archive.namelist())
    assert "_since=2026-01-01" in manifest["request"]

    (event,) = fhir_audit(db)
    assert event.staff_id == ada.id
    assert event.to_value == "2 requests"


def test_a_bad_date_is_explained_on_the_field(app, db):
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = admin.get("/staff/fhir-export").get_data(as_text=True)
    for typed, message in [
        ("", "Enter a date, like 2026-11-01"),
        ("last week", "Enter a real date, like 2026-11-01"),
        ("2999-01-01", "The date must be today or in the past"),
    ]:
        response = admin.post(
            "/staff/fhir-export", data={"since": typed, "csrf_token": csrf_from(page)}
        )
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert html.count(message) == 2, "in the summary and on the field"
        assert "<title>Error: " in html
        if typed:
            assert f'value="{typed}"' in html
    assert fhir_audit(db) == []


def test_the_export_page_is_well_formed(app, db):
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = admin.get("/staff/fhir-export")
    check_page(page, title="Export to the health record (FHIR)")
    refused = admin.post(
        "/staff/fhir-export", data={"since": "soon", "csrf_token": csrf_from(page.get_data(True))}
    )
    check_page(refused, title="Error: Export to the health record (FHIR)")
    assert error_summary(refused) == {"since": "Enter a real date, like 2026-11-01"}


def test_a_download_too_big_for_the_web_is_refused_with_the_way_out(app, db, monkeypatch):
    make_request(db)
    make_request(db)
    monkeypatch.setattr(fhir_views, "WEB_EXPORT_LIMIT", 1)
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = admin.get("/staff/fhir-export").get_data(as_text=True)
    refused = admin.post(
        "/staff/fhir-export", data={"since": "2026-01-01", "csrf_token": csrf_from(page)}
    )
    assert refused.status_code == 400
    assert "2 requests changed since then" in error_summary(refused)["since"]
    assert "flask fhir export" in error_summary(refused)["since"]
    assert fhir_audit(db) == []
