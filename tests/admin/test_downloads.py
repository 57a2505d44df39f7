"""One rule for every download (app/auth/downloads.py): a POST with the CSRF token, never
from another site, after a fresh proof, with one audit entry saying what left.

The walk opens every route of the URL map, anonymous and as an admin who has just proved
who they are, with real values in the path and a sample form, and fails for any answer
with ``Content-Disposition: attachment`` from a view that does not carry
``@patient_data_download``. Then each declared download is tried against each part of
the rule.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from flask import Flask, Response, url_for
from sqlalchemy import select

from app.auth.access import admin_required
from app.auth.downloads import is_declared_download
from app.models import AuditEvent, StaffRole
from app.records import clamd, documents
from app.vocabulary import DocumentKind
from tests.conftest import make_test_app
from tests.support import records
from tests.support.staff import csrf_from, make_request, make_staff, sign_in

ADMIN = "ada@example.org"
# What a download's form sends, for the walk and the rule's tests: a period, a date, the
# queue's filters (empty is every open request).
SAMPLE_FORM = {"since": "2020-01-01", "start": "2026-11-01", "end": "2026-11-30"}
# The action each download writes to the trail.
ACTIONS = {
    "admin.export_csv": "export",
    "admin.request_fhir": "fhir_export",
    "admin.fhir_export_download": "fhir_export",
    "admin.metrics_csv": "metrics_export",
    "intake.document_download": "document_downloaded",
}


class GuardLog(logging.Handler):
    """Catches the fail-closed guard's complaint about an undeclared attachment."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.endpoints: list[str] = []

    def emit(self, record):
        if "attachment refused" in record.getMessage():
            self.endpoints.append(getattr(record, "endpoint", "?"))


def _path_values(app: Flask, rule, *, reference: str, other_id: int, ids: dict) -> dict:
    values = {}
    for name in rule.arguments:
        # A row id (<id:...>, app/factory.py): from the rule's text.
        if f"<id:{name}>" in rule.rule:
            values[name] = ids.get(name, other_id)
        else:
            values[name] = reference
    return values


def _clean_document(db, request_id: int) -> int:
    """A record the person sent, scanned clean, for the walk to download."""
    received = documents.receive(
        db,
        request_id=request_id,
        kind=DocumentKind.PATHOLOGY,
        data=records.pdf(),
        now=datetime.now(UTC),
        limits=documents.RecordLimits(),
        scanner=lambda _data: clamd.ScanResult(clamd.Verdict.CLEAN),
        storage=documents.Storage(),
        client_ip=None,
    )
    db.commit()
    return received.document_id


def walk(app: Flask, db) -> tuple[list[str], set[str]]:
    """Every route, every method, anonymous and as a freshly proved admin. Returns the
    answers with an attachment from views not declared downloads (or that the fail-closed
    guard caught doing so), and the endpoints that answered with an attachment at all."""
    row = make_request(db)
    ids = {"document_id": _clean_document(db, row.id)}
    # Account routes act on another account, never on the walker's own.
    other = make_staff(app, db, email="other@example.org", name="Other Person")
    make_staff(app, db, email=ADMIN, name="Ada Admin", role=StaffRole.ADMIN)
    db.rollback()
    guard = GuardLog()
    logging.getLogger("app.auth.downloads").addHandler(guard)
    problems: list[str] = []
    attached: set[str] = set()
    anonymous, admin = app.test_client(), app.test_client()
    token = _signed_in_token(admin)
    try:
        for rule in app.url_map.iter_rules():
            if rule.endpoint in ("static", "auth.logout"):
                continue
            with app.test_request_context():
                url = url_for(
                    rule.endpoint,
                    **_path_values(app, rule, reference=row.reference, other_id=other.id, ids=ids),
                )
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                for who, client in (("anonymous", anonymous), ("admin", admin)):
                    data = dict(SAMPLE_FORM, csrf_token=token) if who == "admin" else SAMPLE_FORM
                    response = client.open(url, method=method, data=data)
                    if who == "admin" and "/staff/login" in response.headers.get("Location", ""):
                        # Something on the way ended the session: sign in again, go on.
                        token = _signed_in_token(admin)
                    disposition = response.headers.get("Content-Disposition", "")
                    declared = is_declared_download(app.view_functions[rule.endpoint])
                    if disposition.lower().startswith("attachment"):
                        attached.add(rule.endpoint)
                        if not declared:
                            problems.append(f"{method} {rule.rule} ({who})")
    finally:
        logging.getLogger("app.auth.downloads").removeHandler(guard)
    caught = [f"{endpoint} (caught by the guard)" for endpoint in guard.endpoints]
    return problems + caught, attached


def _signed_in_token(client) -> str:
    """Sign the admin in (a fresh proof of identity) and return the page's CSRF token."""
    sign_in(client, ADMIN)
    return csrf_from(client.get("/staff/queue").get_data(as_text=True))


def declared_downloads(app: Flask) -> dict[str, str]:
    """endpoint -> rule, for every view carrying the decorator."""
    return {
        rule.endpoint: rule.rule
        for rule in app.url_map.iter_rules()
        if is_declared_download(app.view_functions[rule.endpoint])
    }


def test_no_route_answers_an_attachment_outside_the_rule(app, db):
    problems, attached = walk(app, db)
    assert problems == []
    # The walk reached every download there is, as the admin: it would see a new one.
    assert attached == set(declared_downloads(app)) == set(ACTIONS)


def test_the_walk_catches_an_undeclared_download(database_url):
    """The walk fails for a new staff view that answers with an attachment on its own,
    and the guard sends that view's file to nobody."""
    app = make_test_app(database_url)

    def leak():
        return Response(
            "Santos,Maria\n",
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="leak.csv"'},
        )

    app.add_url_rule("/staff/leak.csv", "admin.leak", admin_required(leak), methods=["GET"])
    from sqlalchemy.orm import Session

    with Session(app.extensions["db_engine"]) as db:
        try:
            problems, _attached = walk(app, db)
            assert problems == ["admin.leak (caught by the guard)"]
            client = app.test_client()
            sign_in(client, ADMIN)
            refused = client.get("/staff/leak.csv")
            assert refused.status_code == 403
            assert b"Santos" not in refused.data
        finally:
            from tests.conftest import _empty_tables

            _empty_tables(app.extensions["db_engine"])


def _post(app, db, client, endpoint: str, **headers):
    values = {}
    if endpoint in ("admin.request_fhir", "intake.document_download"):
        row = make_request(db)
        values["reference"] = row.reference
        if endpoint == "intake.document_download":
            values["document_id"] = _clean_document(db, row.id)
    with app.test_request_context():
        url = url_for(endpoint, **values)
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    return url, client.post(url, data={**SAMPLE_FORM, "csrf_token": token}, headers=headers)


def _admin(app, db):
    make_staff(app, db, email=ADMIN, name="Ada Admin", role=StaffRole.ADMIN)
    client = app.test_client()
    sign_in(client, ADMIN)
    db.rollback()
    return client


def _entries(db) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


@pytest.mark.parametrize("endpoint", sorted(ACTIONS))
def test_each_download_keeps_the_whole_rule(app, db, endpoint):
    client = _admin(app, db)

    # A POST that leaves one audit entry saying what left.
    before = len(_entries(db))
    url, response = _post(app, db, client, endpoint)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    new = [e for e in _entries(db)[before:] if e.action not in ("queue_view", "document_received")]
    assert [e.action for e in new] == [ACTIONS[endpoint]]
    assert new[0].staff_id is not None and (new[0].to_value or new[0].detail)

    # Never a GET: a link or an image on another site cannot start it. (The bulk export's
    # address shows its form on a GET.)
    got = client.get(url)
    assert got.status_code in (200, 405)
    assert "Content-Disposition" not in got.headers
    # Never without the page's token.
    assert client.post(url, data=SAMPLE_FORM).status_code == 400
    # Never from another site's page, even with a token (and that is on the record).
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        _, refused = _post(app, db, client, endpoint, **headers)
        assert refused.status_code == 403
        assert "attachment" not in refused.headers.get("Content-Disposition", "")
    assert _entries(db)[-1].action == "access_denied"

    # Not on an old proof of identity: to the check first, then back to the page.
    with client.session_transaction() as session:
        session["staff_proved"] = int(time.time()) - app.config["STAFF_REAUTH_MINUTES"] * 60 - 1
    _, stale = _post(app, db, client, endpoint, Referer="http://localhost/staff/queue")
    assert stale.status_code == 303
    assert "/staff/confirm?next=/staff/queue" in stale.headers["Location"]
    assert ACTIONS[endpoint] not in [e.action for e in _entries(db)[-3:]]


def test_a_form_with_mistakes_is_a_page_not_a_download(app, db):
    client = _admin(app, db)
    token = csrf_from(client.get("/staff/fhir-export").get_data(as_text=True))
    page = client.post("/staff/fhir-export", data={"since": "soon", "csrf_token": token})
    assert page.status_code == 400
    assert "Content-Disposition" not in page.headers
    assert "fhir_export" not in [e.action for e in _entries(db)]
