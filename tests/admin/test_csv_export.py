"""CSV export for admins: the filtered queue, safe in spreadsheets, on the record."""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from sqlalchemy import select

from app.models import AuditEvent, StaffRole
from app.requests.csv_export import neutralise
from tests.support.staff import (
    NEWER_ANSWERS,
    a_referral,
    csrf_from,
    make_request,
    signed_in_client,
)


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+18135550123", "'+18135550123"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Santos", "Santos"),
        ("O'Neil", "O'Neil"),
        ("", ""),
        (None, ""),
    ],
)
def test_formula_cells_are_neutralised(cell, safe):
    assert neutralise(cell) == safe


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_admin_exports_the_filtered_queue(app, db):
    make_request(db, referral=a_referral(), last_name="Referred")
    make_request(db, last_name='=HYPERLINK("http://evil.example","x")')
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    token = csrf_from(admin.get("/staff/queue").get_data(as_text=True))
    response = admin.post("/staff/export.csv", data={"referral": "self", "csrf_token": token})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert len(rows) == 1
    assert rows[0]["last_name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[0]["has_referral"] == "no"

    everything = read_csv(admin.post("/staff/export.csv", data={"csrf_token": token}))
    assert len(everything) == 2


def test_the_export_has_every_answer_as_stored(app, db):
    make_request(db, **NEWER_ANSWERS, referral=dataclasses.replace(a_referral(), fax=None))
    make_request(db, last_name="Plain")
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    token = csrf_from(admin.get("/staff/queue").get_data(as_text=True))
    rows = read_csv(admin.post("/staff/export.csv", data={"csrf_token": token}))
    caregiver, plain = rows
    assert list(caregiver)[:7] == [
        "reference",
        "status",
        "submitted_at_utc",
        "reply_due_utc",
        "overdue",
        "claimed_by",
        "form_language",
    ]
    assert {k: caregiver[k] for k in NEWER_COLUMNS} == {
        "submitter": "someone_else",
        "phone": "'+18135550123",  # a leading + reads as a formula: kept as text
        "phone_ext": "204",
        "submitter_phone": "'+17275550111",
        "submitter_phone_ext": "31",
        "submitter_email": "ana@example.com",
        "call_first": "caregiver",
        "date_of_birth": "1965-03-27",
        "metastasis_sites": "bones",
        "interpreter_needed": "no",
        "insurance_type": "medicare_advantage",
        "has_referral": "yes",
        "physician_fax": "",
        "form_language": "es",
    }
    assert (plain["phone_ext"], plain["submitter_email"], plain["call_first"]) == ("", "", "")
    assert (plain["submitter"], plain["has_referral"], plain["physician_name"]) == (
        "patient",
        "no",
        "",
    )
    assert (plain["insurance_type"], plain["form_language"]) == ("commercial", "en")


NEWER_COLUMNS = (
    "submitter",
    "phone",
    "phone_ext",
    "submitter_phone",
    "submitter_phone_ext",
    "submitter_email",
    "call_first",
    "date_of_birth",
    "metastasis_sites",
    "interpreter_needed",
    "insurance_type",
    "has_referral",
    "physician_fax",
    "form_language",
)


def test_export_is_recorded_without_the_search_text(app, db):
    make_request(db)
    admin, ada = signed_in_client(app, db, role=StaffRole.ADMIN)
    html = admin.get("/staff/queue").get_data(as_text=True)
    response = admin.post(
        "/staff/export.csv",
        data={"q": "santos", "status": "all", "csrf_token": csrf_from(html)},
    )
    assert len(read_csv(response)) == 1
    db.rollback()
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert event.staff_id == ada.id
    assert event.to_value == "1 rows"
    assert "status=all" in event.detail
    assert "santos" not in event.detail.lower()
    assert " search=" in event.detail  # a keyed hash of the search text


def test_intake_staff_cannot_export(app, db):
    intake, _ = signed_in_client(app, db)
    token = csrf_from(intake.get("/staff/queue").get_data(as_text=True))
    assert intake.post("/staff/export.csv", data={"csrf_token": token}).status_code == 403
    assert "Download these requests as CSV" not in intake.get("/staff/queue").get_data(True)


def test_export_answers_post_only_with_a_csrf_token(app, db):
    make_request(db)
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    # A link (or an image) on another site cannot start a download: GET is not allowed.
    assert admin.get("/staff/export.csv").status_code == 405
    # A form on another site cannot either: it has no CSRF token.
    assert admin.post("/staff/export.csv", data={"status": "all"}).status_code == 400
    db.rollback()
    assert not db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_export_refuses_fetches_from_other_sites(app, db, site):
    make_request(db)
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    token = csrf_from(admin.get("/staff/queue").get_data(as_text=True))
    refused = admin.post(
        "/staff/export.csv", data={"csrf_token": token}, headers={"Sec-Fetch-Site": site}
    )
    assert refused.status_code == 403
    allowed = admin.post(
        "/staff/export.csv", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert allowed.status_code == 200
    assert len(read_csv(allowed)) == 1


def test_the_queue_offers_the_export_as_a_posted_form(app, db):
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    html = admin.get("/staff/queue?status=all").get_data(as_text=True)
    assert 'method="post" action="/staff/export.csv"' in html
    assert 'href="/staff/export.csv' not in html
