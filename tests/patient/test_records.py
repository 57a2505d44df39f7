"""Sending records: scanned by a real clamd before anyone opens them, held apart when
flagged or unscanned, kept once, refused with a reason while the others are kept, and
opened by staff under the sandboxing preview and the export rule."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.models import AuditEvent, RequestDocument
from app.records import documents
from app.records import settings as records_settings
from tests.patient.conftest import link_token, open_page
from tests.support import records
from tests.support.clamd import SIGNATURE
from tests.support.staff import csrf_from, make_request, signed_in_client


@pytest.fixture
def app_overrides(clamd_server) -> dict:
    return {"CLAMD_ADDRESS": clamd_server.address, "STAFF_SECOND_FACTOR": False}


def person(app, db):
    """A request and a browser on its private page. The request is returned detached
    with its id and reference loaded, so reading them opens no transaction in ``db``."""
    made = make_request(db)
    request = SimpleNamespace(id=made.id, reference=made.reference)
    client = app.test_client()
    assert open_page(client, link_token(db, request.id)).status_code == 303
    return request, client


def send(client, *files, kind="pathology", headers=None):
    """Post the upload form as a browser does. The body is encoded in memory: Werkzeug's
    test client would spool a large one to a temporary file it never closes."""
    page = client.get("/your-request/records")
    fields = MultiDict(
        [("kind", kind), ("csrf_token", csrf_from(page.get_data(as_text=True)))]
        + [("files", FileStorage(io.BytesIO(content), filename=name)) for name, content in files]
    )
    boundary, body = encode_multipart(fields)
    return client.post(
        "/your-request/records",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def stored(db):
    db.rollback()
    rows = db.execute(
        select(RequestDocument.kind, RequestDocument.scan_status, RequestDocument.content_type)
    ).all()
    db.rollback()
    return [tuple(str(v) for v in row) for row in rows]


def test_a_report_is_scanned_and_staff_preview_and_download_it(app, db):
    request, client = person(app, db)
    report = records.pdf()
    response = send(client, ("report.pdf", report))
    assert response.status_code == 303 and "saved=records" in response.headers["Location"]
    assert stored(db) == [("pathology", "clean", "application/pdf")]
    assert "Pathology report" in client.get("/your-request").get_data(as_text=True)

    staff, _ = signed_in_client(app, db)
    page = staff.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "data-new-documents" in page and 'data-scan="clean"' in page
    assert "data-new-documents" in staff.get("/staff/queue").get_data(as_text=True)
    document_id = db.scalar(select(RequestDocument.id))
    db.rollback()
    base = f"/staff/requests/{request.reference}/documents/{document_id}"

    preview = staff.get(f"{base}/preview")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    assert preview.data == report
    disposition = preview.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and "Santos" not in disposition
    policies = preview.headers.getlist("Content-Security-Policy")
    assert any(p.startswith("sandbox;") and "default-src 'none'" in p for p in policies)
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    assert preview.headers["Cache-Control"] == "no-store"

    # Downloads follow the export rule: POST, the form's token, never cross-site.
    assert staff.get(f"{base}/download").status_code == 405
    assert staff.post(f"{base}/download").status_code == 400
    token = csrf_from(page)
    cross = staff.post(
        f"{base}/download", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    download = staff.post(f"{base}/download", data={"csrf_token": token})
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.request_id == request.id)).all()
    db.rollback()
    assert actions.count("document_previewed") == 1 and actions.count("document_downloaded") == 1

    # "Mark as seen" takes the mark off the queue until the next news.
    seen = staff.post(f"/staff/requests/{request.reference}/seen", data={"csrf_token": token})
    assert seen.status_code == 303
    assert "data-new-documents" not in staff.get("/staff/queue").get_data(as_text=True)


def test_a_download_needs_a_fresh_proof_of_identity(app, db):
    request, client = person(app, db)
    send(client, ("report.pdf", records.pdf()))
    staff, _ = signed_in_client(app, db)
    page = staff.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    with staff.session_transaction() as session:
        session["staff_proved"] = 0
    document_id = db.scalar(select(RequestDocument.id))
    db.rollback()
    response = staff.post(
        f"/staff/requests/{request.reference}/documents/{document_id}/download",
        data={"csrf_token": csrf_from(page)},
    )
    assert response.status_code == 303 and "/staff/confirm" in response.headers["Location"]


def test_the_eicar_test_file_is_caught_held_apart_and_never_shown(app, db):
    request, client = person(app, db)
    response = send(client, ("lab.pdf", records.eicar_pdf()))
    assert response.status_code == 200
    assert "Our virus check stopped this file" in response.get_data(as_text=True)
    assert stored(db) == [("pathology", "flagged", "application/pdf")]
    staff, _ = signed_in_client(app, db)
    page = staff.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert 'data-scan="flagged"' in page and SIGNATURE in page and "/preview" not in page
    document_id = db.scalar(select(RequestDocument.id))
    db.rollback()
    assert (
        staff.get(
            f"/staff/requests/{request.reference}/documents/{document_id}/preview"
        ).status_code
        == 404
    )


def test_with_clamd_stopped_files_wait_unseen_until_scanned(app, db, tmp_path):
    app.config["CLAMD_ADDRESS"] = str(tmp_path / "stopped.sock")
    request, client = person(app, db)
    response = send(client, ("scan.png", records.png()))
    assert response.status_code == 303
    assert stored(db) == [("pathology", "pending", "image/png")]
    staff, _ = signed_in_client(app, db)
    page = staff.get(f"/staff/requests/{request.reference}").get_data(as_text=True)
    assert "Not yet scanned" in page and "/preview" not in page
    assert "data-new-documents" not in staff.get("/staff/queue").get_data(as_text=True)
    document_id = db.scalar(select(RequestDocument.id))
    db.rollback()
    assert (
        staff.get(
            f"/staff/requests/{request.reference}/documents/{document_id}/preview"
        ).status_code
        == 404
    )


def test_the_same_file_sent_twice_is_kept_once(app, db):
    _request, client = person(app, db)
    card = records.png()
    first = send(client, ("card.png", card), kind="insurance_front")
    again = send(client, ("card-again.png", card), kind="insurance_front")
    assert first.status_code == again.status_code == 303
    assert stored(db) == [("insurance_front", "clean", "image/png")]


def test_a_20_mb_file_is_refused_with_the_reason_and_the_others_are_kept(app, db):
    _request, client = person(app, db)
    response = send(client, ("big.pdf", records.large_file(20)), ("front.heic", records.heic()))
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "big.pdf" in text and "larger than 10 MB" in text
    assert stored(db) == [("pathology", "clean", "image/jpeg")]


def test_a_photo_arrives_without_its_gps(app, db):
    _request, client = person(app, db)
    assert send(client, ("IMG_0001.jpg", records.jpeg_with_gps())).status_code == 303
    content = db.scalar(select(RequestDocument.content))
    db.rollback()
    assert b"Exif" not in content and content.startswith(b"\xff\xd8")


def test_the_script_gets_each_file_s_outcome_as_json(app, db):
    _request, client = person(app, db)
    response = send(
        client,
        ("a.pdf", records.pdf(password="x")),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    [outcome] = response.get_json()["outcomes"]
    assert outcome["ok"] is False and "password" in outcome["message"]


def test_only_the_upload_takes_a_large_body(app, db):
    app.config["RECORDS_MAX_FILE_MB"] = 1
    _request, client = person(app, db)
    limit = records_settings.upload_body_limit(app.config)
    too_big = send(client, ("a.pdf", b"%PDF-" + b"0" * limit))
    assert too_big.status_code == 413
    # Every other form keeps the site's 64 KiB.
    page = client.get("/your-request/contact").get_data(as_text=True)
    response = client.post(
        "/your-request/contact",
        data={"csrf_token": csrf_from(page), "phone": "1" * (70 * 1024)},
    )
    assert response.status_code == 413


def test_held_documents_are_scanned_by_the_command(app, db, clamd_server, tmp_path):
    request, client = person(app, db)
    app.config["CLAMD_ADDRESS"] = str(tmp_path / "stopped.sock")
    send(client, ("scan.png", records.png()))
    assert stored(db) == [("pathology", "pending", "image/png")]
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["records", "scan"])
    assert refused.exit_code == 1 and "does not answer" in refused.output
    app.config["CLAMD_ADDRESS"] = clamd_server.address
    result = runner.invoke(args=["records", "scan"])
    assert result.exit_code == 0, result.output
    assert "1 clean" in result.output
    assert stored(db) == [("pathology", "clean", "image/png")]


def test_files_on_a_path_are_written_whole_and_removed_by_retention(app, db, tmp_path):
    storage = documents.Storage(tmp_path / "records")
    content, key = storage.put(b"abc")
    assert content is None and (tmp_path / "records" / key).read_bytes() == b"abc"
    assert not list((tmp_path / "records").glob(".*partial"))
    storage.remove([key])
    assert not (tmp_path / "records" / key).exists()
