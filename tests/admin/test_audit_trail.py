"""The audit trail: an entry for every kind of event, and the admin page's filters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit import trail
from app.audit.trail import AppendOnlyError
from app.models import AuditEvent, RequestEvent, StaffRole
from app.vocabulary import AuditAction
from tests.support.html import parse, visible_text
from tests.support.staff import (
    PASSWORD,
    csrf_from,
    make_request,
    make_staff,
    sign_in,
    signed_in_client,
)


def entries(db) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_every_kind_of_event_is_recorded_without_patient_data(app, db):
    row = make_request(db, first_name="Imelda", last_name="Quintero", email="iq@example.com")
    make_staff(app, db)
    client = app.test_client()
    sign_in(client, "casey@example.org", "wrong password!")
    sign_in(client, "nobody@example.org", PASSWORD)
    sign_in(client)
    url = f"/staff/requests/{row.reference}"

    def post(action, data=None):
        html = client.get(url).get_data(as_text=True)
        return client.post(f"{url}/{action}", data={**(data or {}), "csrf_token": csrf_from(html)})

    post("claim")
    post("notes", {"note": "Imelda asked for a call on Monday."})
    post("status", {"to_status": "contacted"})
    post("release")
    post("claim")
    post("status", {"to_status": "closed", "close_reason": "duplicate"})
    html = client.get("/staff/queue").get_data(as_text=True)
    client.post("/staff/logout", data={"csrf_token": csrf_from(html)})

    events = entries(db)
    actions = [e.action for e in events]
    for action in [
        "sign_in_failed",
        "sign_in",
        "view_request",
        "claim",
        "note",
        "status_change",
        "release",
        "sign_out",
    ]:
        assert action in actions, action
    failed = [e for e in events if e.action == "sign_in_failed"]
    assert failed[0].staff_id is not None and failed[0].detail == "wrong password"
    # What was typed for an unknown account is kept only as a keyed hash.
    assert failed[1].staff_id is None and failed[1].actor_email is None
    assert failed[1].detail.startswith("unknown account; typed text hash ")
    assert "nobody" not in failed[1].detail
    changes = [(e.from_value, e.to_value) for e in events if e.action == "status_change"]
    assert changes == [("in_progress", "contacted"), ("contacted", "closed")]
    assert all(
        e.request_id == row.id
        for e in events
        if "sign" not in e.action and not e.action.startswith("queue_")
    )
    assert all(e.client_ip for e in events)

    # Nothing the patient wrote, and no note text, is copied into the trail.
    dump = " ".join(
        str(v)
        for e in events
        for v in (e.actor_email, e.action, e.from_value, e.to_value, e.detail)
        if v
    )
    for private in ("Imelda", "Quintero", "iq@example.com", "Monday", "+1813"):
        assert private not in dump


def test_a_view_of_a_request_is_recorded_each_time(app, db):
    row = make_request(db)
    client, staff = signed_in_client(app, db)
    client.get(f"/staff/requests/{row.reference}")
    client.get(f"/staff/requests/{row.reference}")
    views = [e for e in entries(db) if e.action == "view_request"]
    assert len(views) == 2
    assert {(e.staff_id, e.request_id) for e in views} == {(staff.id, row.id)}


def test_admins_filter_the_trail_by_staff_and_by_request(app, db):
    one = make_request(db)
    two = make_request(db, email="other@example.com", phone="+18135550999")
    intake, casey = signed_in_client(app, db)
    admin, ada = signed_in_client(
        app, db, email="ada@example.org", name="Ada Admin", role=StaffRole.ADMIN
    )
    intake.get(f"/staff/requests/{one.reference}")
    intake.get(f"/staff/requests/{two.reference}")
    admin.get(f"/staff/requests/{two.reference}")

    everything = admin.get("/staff/audit")
    assert everything.status_code == 200
    assert len(parse(everything).select("table.audit tbody tr")) == 5  # 2 sign-ins, 3 views

    by_casey = parse(admin.get("/staff/audit", query_string={"staff": casey.id}))
    rows = by_casey.select("table.audit tbody tr")
    assert len(rows) == 3
    assert all("Casey Intake" in r.get_text() for r in rows)

    typed = f"{two.reference[:4]}-{two.reference[4:8]}-{two.reference[8:]}".lower()
    by_request = parse(admin.get("/staff/audit", query_string={"reference": typed}))
    rows = by_request.select("table.audit tbody tr")
    assert len(rows) == 2
    assert {r.select("td")[1].get_text() for r in rows} == {"Casey Intake", "Ada Admin"}

    both = parse(
        admin.get("/staff/audit", query_string={"staff": ada.id, "reference": two.reference})
    )
    assert len(both.select("table.audit tbody tr")) == 1


def test_a_bad_reference_filter_says_so(app, db):
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    response = admin.get("/staff/audit", query_string={"reference": "not-a-ref"})
    assert response.status_code == 200
    assert "Enter a reference like" in visible_text(response)
    response = admin.get("/staff/audit", query_string={"staff": "999"})
    assert response.status_code == 200


def test_entries_cannot_be_changed_or_deleted(app, db):
    row = make_request(db)
    client, _ = signed_in_client(app, db)
    html = client.get(f"/staff/requests/{row.reference}").get_data(as_text=True)
    client.post(
        f"/staff/requests/{row.reference}/notes",
        data={"note": "Called.", "csrf_token": csrf_from(html)},
    )
    db.rollback()
    entry = db.scalars(select(AuditEvent)).first()
    entry.detail = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.flush()
    db.rollback()
    note = db.scalars(select(RequestEvent)).one()
    db.delete(note)
    with pytest.raises(AppendOnlyError):
        db.flush()
    db.rollback()


def test_the_trail_is_paged_newest_first(app, db):
    admin, ada = signed_in_client(app, db, role=StaffRole.ADMIN)
    for i in range(trail.PAGE_SIZE + 4):
        trail.record(db, action=AuditAction.SIGN_IN, staff_id=ada.id, detail=f"entry {i}")
    db.commit()
    first = parse(admin.get("/staff/audit"))
    rows = first.select("table.audit tbody tr")
    assert len(rows) == trail.PAGE_SIZE
    assert "entry 103" in rows[0].get_text()
    older = first.select_one('a[rel="next"]')["href"]
    rest = parse(admin.get(older)).select("table.audit tbody tr")
    # The rest: the last 4 of the loop, and the sign-in that came first of all.
    assert [r.select("td")[6].get_text() for r in rest] == [
        "entry 3",
        "entry 2",
        "entry 1",
        "entry 0",
        "",
    ]
