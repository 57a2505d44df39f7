"""Working a request: what is shown, duplicates, claim and release, status moves, notes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from app.common.actor import Actor
from app.common.errors import Refused
from app.models import AppointmentRequest, CloseReason, RequestEvent, RequestStatus, StaffRole
from app.requests import request_work
from tests.conftest import count_rows
from tests.support.html import parse, visible_text
from tests.support.staff import (
    a_referral,
    csrf_from,
    make_request,
    make_staff,
    signed_in_client,
)


def detail_url(row) -> str:
    return f"/staff/requests/{row.reference}"


def act(client, row, action: str, data: dict | None = None):
    html = client.get(detail_url(row)).get_data(as_text=True)
    return client.post(
        f"{detail_url(row)}/{action}", data={**(data or {}), "csrf_token": csrf_from(html)}
    )


def current(db, row) -> AppointmentRequest:
    db.rollback()
    return db.get(AppointmentRequest, row.id, populate_existing=True)


def flash_text(client, row) -> str:
    return visible_text(client.get(detail_url(row)))


def test_everything_submitted_is_shown_with_the_referral(app, db):
    row = make_request(
        db,
        referral=a_referral(),
        submitted_by_patient=False,
        submitter_name="Rosa Santos",
        submitter_relationship="daughter",
        submitter_phone="+18135550155",
        message="Please call after 10.",
        interpreter_needed=True,
        language="spanish",
    )
    client, _ = signed_in_client(app, db)
    response = client.get(detail_url(row))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = visible_text(response)
    for expected in [
        "Maria Santos",
        "03/27/1965",
        "(813) 555-0123",
        "maria@example.com",
        "Florida 33612",
        "Spanish",
        "Needed",
        "Bones",
        "Florida Blue",
        "Rosa Santos",
        "daughter",
        "Dr. Alan O'Neil",
        "(727) 555-0142",
        "Bayside Oncology",
        "1234567893",
        "Please call after 10.",
    ]:
        assert expected in text, expected
    assert parse(response).body["class"] == ["staff"]


def test_possible_duplicates_are_linked(app, db):
    row = make_request(db, email="a@example.com", phone="+18135550001", last_name="Santos")
    same_person = make_request(db, email="b@example.com", phone="+18135550002", last_name="SANTOS")
    same_email = make_request(
        db,
        email="a@example.com",
        phone="+18135550003",
        last_name="Other",
        date_of_birth=date(1970, 1, 1),
    )
    same_phone = make_request(
        db,
        email="c@example.com",
        phone="+18135550001",
        last_name="Else",
        date_of_birth=date(1971, 1, 1),
    )
    unrelated = make_request(
        db,
        email="d@example.com",
        phone="+18135550004",
        last_name="Santos",
        date_of_birth=date(1980, 1, 1),
    )
    client, _ = signed_in_client(app, db)
    soup = parse(client.get(detail_url(row)))
    links = {a["href"] for a in soup.select(".duplicates a")}
    assert links == {detail_url(r) for r in (same_person, same_email, same_phone)}
    assert detail_url(unrelated) not in links
    text = soup.select_one(".duplicates").get_text(" ")
    assert "same name and date of birth" in text
    assert "same email" in text
    assert "same phone" in text


def test_claim_and_release(app, db):
    row = make_request(db)
    client, me = signed_in_client(app, db)
    assert act(client, row, "claim").status_code == 303
    claimed = current(db, row)
    assert claimed.claimed_by_id == me.id
    assert claimed.status == RequestStatus.IN_PROGRESS
    assert "Casey Intake" in flash_text(client, row)

    assert act(client, row, "release").status_code == 303
    released = current(db, row)
    assert released.claimed_by_id is None
    assert released.status == RequestStatus.NEW
    kinds = [e.kind for e in db.scalars(select(RequestEvent).order_by(RequestEvent.id))]
    assert kinds == ["claim", "release"]


def test_a_claimed_request_tells_others_who_has_it(app, db):
    row = make_request(db)
    first, _ = signed_in_client(app, db)
    second, _ = signed_in_client(app, db, email="robin@example.org", name="Robin Second")
    act(first, row, "claim")
    response = act(second, row, "claim")
    assert response.status_code == 303
    assert "Casey Intake has already claimed this request" in flash_text(second, row)
    # Nor can the second person release it or move it on.
    act(second, row, "release")
    assert "Only Casey Intake or an admin can release" in flash_text(second, row)
    act(second, row, "status", {"to_status": "contacted"})
    assert "only they can change its status" in flash_text(second, row)
    assert current(db, row).status == RequestStatus.IN_PROGRESS


def test_an_admin_may_release_someone_elses_claim(app, db):
    row = make_request(db)
    intake, _ = signed_in_client(app, db)
    admin, _ = signed_in_client(
        app, db, email="ada@example.org", name="Ada Admin", role=StaffRole.ADMIN
    )
    act(intake, row, "claim")
    act(admin, row, "release")
    assert current(db, row).claimed_by_id is None


def move(client, row, to_status: str, reason: str | None = None, note: str = "", **extra):
    data = {"to_status": to_status, "status_note": note, **extra}
    if reason:
        data["close_reason"] = reason
    return act(client, row, "status", data)


def test_the_whole_way_to_scheduled_with_notes(app, db):
    row = make_request(db)
    client, _ = signed_in_client(app, db)
    act(client, row, "claim")
    assert (
        move(client, row, "contacted", note="Left a voicemail, then she called back.").status_code
        == 303
    )
    assert current(db, row).status == RequestStatus.CONTACTED
    assert move(client, row, "scheduled", appointment_date="2099-01-05").status_code == 303
    assert current(db, row).status == RequestStatus.SCHEDULED
    text = flash_text(client, row)
    assert "Changed the status from in progress to contacted" in text
    assert "Changed the status from contacted to scheduled" in text
    assert "Left a voicemail, then she called back." in text


# Every open state and every reason, each at least once.
@pytest.mark.parametrize(
    ("start", "reason"),
    [
        ("new", "duplicate"),
        ("in_progress", "unable_to_reach"),
        ("contacted", "declined"),
        ("in_progress", "not_eligible"),
        ("contacted", "other"),
    ],
)
def test_closing_from_every_open_state_with_each_reason(app, db, start, reason):
    row = make_request(db)
    client, me = signed_in_client(app, db)
    if start != "new":
        db.execute(
            update(AppointmentRequest)
            .where(AppointmentRequest.id == row.id)
            .values(status=RequestStatus(start), claimed_by_id=me.id)
        )
        db.commit()
    assert move(client, row, "closed", reason=reason).status_code == 303
    closed = current(db, row)
    assert closed.status == RequestStatus.CLOSED
    assert closed.closed_reason == CloseReason(reason)
    assert closed.closed_at is not None


def test_closing_needs_a_reason(app, db):
    row = make_request(db)
    client, _ = signed_in_client(app, db)
    response = move(client, row, "closed")
    assert response.status_code == 400
    soup = parse(response)
    assert (
        "Choose why the request is being closed"
        in soup.select_one("[data-error-summary]").get_text()
    )
    assert soup.find(id="close_reason-error") is not None
    assert current(db, row).status == RequestStatus.NEW


REFUSED = [
    # (from, claimed by me, to)
    ("new", False, "contacted"),
    ("new", False, "scheduled"),
    ("in_progress", True, "awaiting_records"),
    ("in_progress", True, "new"),
    ("in_progress", True, "in_progress"),
    ("contacted", True, "in_progress"),
    ("contacted", True, "new"),
    ("scheduled", True, "awaiting_records"),
    ("scheduled", True, "in_progress"),
    ("closed", True, "new"),
    ("closed", True, "contacted"),
]


@pytest.mark.parametrize(("start", "claimed", "to"), REFUSED)
def test_refused_moves_change_nothing(app, db, start, claimed, to):
    row = make_request(db)
    client, me = signed_in_client(app, db)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == row.id)
        .values(status=RequestStatus(start), claimed_by_id=me.id if claimed else None)
    )
    db.commit()
    response = move(client, row, to, reason="other")
    assert response.status_code in (303, 400)
    assert current(db, row).status == RequestStatus(start)
    assert count_rows(db, "request_events") == 0


def test_service_refuses_a_move_the_form_does_not_offer(app, db):
    row = make_request(db)
    staff = make_staff(app, db)
    db.rollback()
    with pytest.raises(Refused, match="cannot be moved to scheduled"):
        request_work.change_status(
            db,
            reference=row.reference,
            actor=Actor(staff_id=staff.id, role=staff.role),
            to_status=RequestStatus.SCHEDULED,
            close_reason=None,
            note=None,
            now=row.submitted_at,
        )


def test_notes_are_added_and_kept(app, db):
    row = make_request(db)
    client, _ = signed_in_client(app, db)
    assert act(client, row, "notes", {"note": "First call: no answer."}).status_code == 303
    assert act(client, row, "notes", {"note": "Second call: spoke to her."}).status_code == 303
    text = flash_text(client, row)
    assert text.index("First call: no answer.") < text.index("Second call: spoke to her.")
    assert "Casey Intake" in text
    # There is no way to change or remove a note: no route takes one.
    assert not [
        r
        for r in app.url_map.iter_rules()
        if "note" in r.rule and r.methods & {"PUT", "PATCH", "DELETE"}
    ]


def test_an_empty_note_is_refused_on_the_field(app, db):
    row = make_request(db)
    client, _ = signed_in_client(app, db)
    response = act(client, row, "notes", {"note": "   "})
    assert response.status_code == 400
    soup = parse(response)
    assert "Write the note before you add it" in soup.select_one("[data-error-summary]").get_text()
    assert soup.find(id="status_note-error") is not None


def test_unknown_reference_is_not_found(app, db):
    client, _ = signed_in_client(app, db)
    assert client.get("/staff/requests/ZZZZZZZZZZZZ").status_code == 404
    html = client.get("/staff/queue").get_data(as_text=True)
    response = client.post(
        "/staff/requests/ZZZZZZZZZZZZ/claim", data={"csrf_token": csrf_from(html)}
    )
    assert response.status_code == 404


def test_viewing_survives_another_worker_writing_meanwhile(app, db, monkeypatch):
    """The view's audit entry is written after its reads; another worker's write in
    between must not turn the page into an error (on SQLite it would, were the write
    made in the reading transaction)."""
    row = make_request(db)
    other = make_request(db, email="else@example.com", phone="+18135550777")
    client, _ = signed_in_client(app, db)
    real_duplicates = request_work.duplicates

    def duplicates_then_someone_writes(session, **kwargs):
        found = real_duplicates(session, **kwargs)
        db.execute(
            update(AppointmentRequest)
            .where(AppointmentRequest.id == other.id)
            .values(status=RequestStatus.CONTACTED)
        )
        db.commit()
        return found

    monkeypatch.setattr(request_work, "duplicates", duplicates_then_someone_writes)
    assert client.get(detail_url(row)).status_code == 200


def test_a_contacted_request_keeps_its_status_through_release_and_claim(app, db):
    row = make_request(db)
    first, me = signed_in_client(app, db)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == row.id)
        .values(status=RequestStatus.CONTACTED, claimed_by_id=me.id)
    )
    db.commit()
    act(first, row, "release")
    assert (current(db, row).status, current(db, row).claimed_by_id) == (
        RequestStatus.CONTACTED,
        None,
    )
    second, colleague = signed_in_client(app, db, email="robin@example.org", name="Robin")
    act(second, row, "claim")
    taken = current(db, row)
    assert (taken.status, taken.claimed_by_id) == (RequestStatus.CONTACTED, colleague.id)


def test_finished_requests_cannot_be_claimed(app, db):
    row = make_request(db)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == row.id)
        .values(status=RequestStatus.CLOSED)
    )
    db.commit()
    client, _ = signed_in_client(app, db)
    act(client, row, "claim")
    assert "A closed request cannot be claimed" in flash_text(client, row)
    assert current(db, row).claimed_by_id is None
