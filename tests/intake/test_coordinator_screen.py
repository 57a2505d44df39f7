"""The coordinator's screen (issue 31), page by page: "Save and take the next" (one POST,
the same refusals and audit rows as Save and then "Take the next request"), the request
page's first screen in order, the compact queue, times as staff say them, vocabulary
labels in the audit trail, and held searches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.models import AppointmentRequest, AuditEvent, HeldSearch, RequestEvent
from app.requests import held_searches
from app.requests.business_clock import BusinessClock
from app.vocabulary import AuditAction, EventKind, RequestStatus, StaffRole
from tests.support.html import parse
from tests.support.staff import (
    csrf_from,
    make_request,
    make_staff,
    signed_in_client,
)

NY = ZoneInfo("America/New_York")


def _oldest_three(db):
    now = datetime.now(UTC)
    return [
        make_request(db, submitted_at=now - timedelta(days=30 - i), last_name=f"Person{i}")
        for i in range(3)
    ]


def _actions_since(db, first_id: int) -> list[tuple[str, int | None, str | None, str | None]]:
    db.rollback()
    rows = db.execute(
        select(AuditEvent.action, AuditEvent.request_id, AuditEvent.from_value, AuditEvent.to_value)
        .where(AuditEvent.id > first_id, AuditEvent.action != AuditAction.VIEW_REQUEST)
        .order_by(AuditEvent.id)
    ).all()
    return [(str(a), r, f, t) for a, r, f, t in rows]


def _last_audit_id(db) -> int:
    db.rollback()
    return db.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0


def test_save_and_take_the_next_is_save_then_take_next_in_one_post(app, db):
    client, me = signed_in_client(app, db)
    first, second, third = _oldest_three(db)
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    taken = client.post("/staff/next", data={"csrf_token": token})
    assert taken.headers["Location"].endswith(f"/staff/requests/{first.reference}")

    before = _last_audit_id(db)
    tomorrow = (datetime.now(NY) + timedelta(days=1)).date()
    response = client.post(
        f"/staff/requests/{first.reference}/status",
        data={
            "csrf_token": token,
            "status_note": "Spoke with her.",
            "to_status": "contacted",
            "callback_date": tomorrow.isoformat(),
            "callback_time": "10:00",
            "then": "next",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/requests/{second.reference}")
    # The save's entries, then the claim's, exactly as the two buttons one after the other.
    assert _actions_since(db, before) == [
        ("status_change", first.id, "in_progress", "contacted"),
        ("claim", second.id, None, None),
    ]
    db.rollback()
    stored = {
        r.reference: r
        for r in db.scalars(
            select(AppointmentRequest).where(
                AppointmentRequest.id.in_([first.id, second.id, third.id])
            )
        )
    }
    assert stored[first.reference].status == RequestStatus.CONTACTED
    assert stored[second.reference].claimed_by_id == me.id
    assert stored[third.reference].claimed_by_id is None
    kinds = db.scalars(
        select(RequestEvent.kind)
        .where(RequestEvent.request_id == first.id)
        .order_by(RequestEvent.id)
    ).all()
    assert kinds[-1] == EventKind.STATUS
    page = parse(client.get(response.headers["Location"]))
    told = [notice.get_text(strip=True) for notice in page.select("[role=status]")]
    assert (
        f"{first.reference[:4]}-{first.reference[4:8]}-{first.reference[8:]}: Saved: the request "
        "is now contacted. You have claimed this request: it is the oldest waiting." in told
    )


def test_save_and_take_the_next_with_a_note_alone_and_nothing_left(app, db):
    client, _me = signed_in_client(app, db)
    only = make_request(db)
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    client.post("/staff/next", data={"csrf_token": token})
    before = _last_audit_id(db)
    response = client.post(
        f"/staff/requests/{only.reference}/status?interpreter=needed",
        data={"csrf_token": token, "status_note": "Voicemail left.", "then": "next"},
    )
    # Saved; nothing else waits with the queue's filters: back to the queue, told so.
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/queue?interpreter=needed")
    assert [a for a, *_ in _actions_since(db, before)] == ["note"]
    text = parse(client.get(response.headers["Location"])).get_text()
    assert "Note added." in text and "No unclaimed request needs action" in text


def test_save_and_take_the_next_is_refused_as_save_is(app, db):
    client, _me = signed_in_client(app, db)
    other = make_staff(app, db, email="robin@example.org", name="Robin Other")
    theirs, waiting = _oldest_three(db)[:2]
    db.execute(
        AppointmentRequest.__table__.update()
        .where(AppointmentRequest.id == theirs.id)
        .values(claimed_by_id=other.id, status="in_progress")
    )
    db.commit()
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    before = _last_audit_id(db)
    refused = client.post(
        f"/staff/requests/{theirs.reference}/status",
        data={"csrf_token": token, "to_status": "contacted", "then": "next"},
    )
    assert refused.status_code == 303
    assert refused.headers["Location"].endswith(f"/staff/requests/{theirs.reference}")
    # Nothing was claimed: the refusal stops the whole POST.
    db.rollback()
    assert db.get(AppointmentRequest, waiting.id).claimed_by_id is None
    assert "claim" not in [a for a, *_ in _actions_since(db, before)]
    # A form with a mistake: shown on its field, on the same request, nothing taken.
    mine = client.post("/staff/next", data={"csrf_token": token}).headers["Location"]
    reference = mine.rsplit("/", 1)[1]
    bad = client.post(
        f"/staff/requests/{reference}/status",
        data={"csrf_token": token, "then": "next"},
    )
    assert bad.status_code == 400
    assert (
        "Write a note, or choose a new status" in parse(bad).select_one(".error-summary").get_text()
    )


def test_the_request_page_puts_the_work_first(app, db):
    client, _me = signed_in_client(app, db)
    row = make_request(db)
    soup = parse(client.get(f"/staff/requests/{row.reference}"))
    work = soup.select_one(".request-work")
    order = [
        child.get("class")[0] for child in work.find_all(recursive=False) if child.get("class")
    ]
    # The markup's order is the phone's: call card, where it stands, actions, answers.
    assert order == ["call-card", "standing-now", "actions", "deciding"]
    buttons = [b.get_text() for b in work.select(".actions form.status-form button")]
    assert buttons == ["Save", "Save and take the next"]
    assert "Told the cancer has spread" in work.select_one(".deciding").get_text()
    assert "(Eastern time)" in soup.select_one(".call-card").get_text()
    assert "America/New_York" not in soup.get_text()


def test_the_queue_is_compact_and_explains_itself_below(app, db):
    client, _me = signed_in_client(app, db)
    now = datetime.now(UTC)
    late = make_request(db, submitted_at=now - timedelta(days=10))
    fresh = make_request(db, submitted_at=now - timedelta(hours=3, minutes=5))
    soup = parse(client.get("/staff/queue"))
    late_wait = soup.select_one(f'tr[data-reference="{late.reference}"] td:nth-of-type(6)')
    fresh_wait = soup.select_one(f'tr[data-reference="{fresh.reference}"] td:nth-of-type(6)')
    assert fresh_wait.get_text(" ", strip=True) == "3h 5m"
    assert "due" not in fresh_wait.get_text() and "reply due" in fresh_wait["title"]
    assert late_wait.select_one(".queue__waited").get_text().startswith("10d")
    assert "Overdue" in late_wait.get_text() and "due " in late_wait.get_text()
    # The filters folded while none is chosen; open when one is.
    assert soup.select_one("details.filters").get("open") is None
    assert (
        parse(client.get("/staff/queue?referral=self")).select_one("details.filters").get("open")
        is not None
    )
    # The explanation after the table, not before it.
    main = str(soup.select_one("main"))
    assert main.index("queue-about") > main.index("<table")


def test_times_are_labelled_as_staff_say_them():
    assert BusinessClock().zone_label == "Eastern time"
    assert BusinessClock(zone=ZoneInfo("America/Chicago")).zone_label == "Central time"
    assert BusinessClock(zone=ZoneInfo("UTC")).zone_label == "UTC"


def test_the_audit_trail_reads_statuses_as_their_labels(app, db):
    client, me = signed_in_client(app, db, role=StaffRole.ADMIN)
    row = make_request(db)
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    client.post(f"/staff/requests/{row.reference}/claim", data={"csrf_token": token})
    client.post(
        f"/staff/requests/{row.reference}/status",
        data={"csrf_token": token, "to_status": "contacted"},
    )
    soup = parse(client.get(f"/staff/audit?reference={row.reference}"))
    cells = [td.get_text() for td in soup.select("table.audit td")]
    assert "In progress" in cells and "Contacted" in cells
    assert "in_progress" not in cells


def test_held_searches_are_kept_a_working_day_for_their_owner(app, db):
    staff = make_staff(app, db)
    now = datetime.now(UTC)
    token = held_searches.hold(db, staff_id=staff.id, search="santos", now=now)
    assert held_searches.find(db, staff_id=staff.id, token=token, now=now) == "santos"
    assert held_searches.find(db, staff_id=staff.id + 1, token=token, now=now) is None
    later = now + held_searches.KEPT_FOR + timedelta(minutes=1)
    assert held_searches.find(db, staff_id=staff.id, token=token, now=later) is None
    assert held_searches.find(db, staff_id=staff.id, token="x" * 40, now=now) is None
    # Holding another deletes the ones past their time.
    held_searches.hold(db, staff_id=staff.id, search="nguyen", now=later)
    assert db.scalars(select(HeldSearch.search)).all() == ["nguyen"]
    db.rollback()
