"""The coordinator's working day in the services: every move and refusal, reopen,
take-next (also two at once on PostgreSQL), My work, the stored reply-due time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.common.actor import Actor
from app.common.errors import Refused
from app.models import AppointmentRequest, AuditEvent, RequestEvent
from app.requests import intake_queue, request_work
from app.requests.business_clock import BusinessClock
from app.requests.intake_queue import InterpreterFilter, QueueFilters, ReferralFilter, StatusFilter
from app.vocabulary import CloseReason, EventKind, RequestStatus, StaffRole
from tests.support.staff import a_referral, make_request, make_staff

NY = ZoneInfo("America/New_York")
S = RequestStatus
# A Tuesday morning in the center's zone.
NOW = datetime(2026, 11, 17, 9, 0, tzinfo=NY).astimezone(UTC)


def actor_for(staff) -> Actor:
    return Actor(staff_id=staff.id, role=staff.role)


@pytest.fixture
def casey(app, db):
    return actor_for(make_staff(app, db))


@pytest.fixture
def ada(app, db):
    return actor_for(
        make_staff(app, db, email="ada@example.org", name="Ada Admin", role=StaffRole.ADMIN)
    )


def row_of(db, reference: str) -> AppointmentRequest:
    db.expire_all()
    return db.scalars(
        select(AppointmentRequest).where(AppointmentRequest.reference == reference)
    ).one()


def move(db, ref, actor, to, **kw):
    kw.setdefault("close_reason", None)
    kw.setdefault("note", None)
    kw.setdefault("now", NOW)
    request_work.change_status(db, reference=ref, actor=actor, to_status=to, **kw)
    db.commit()


def test_the_reply_due_time_is_stored_when_a_request_arrives(db):
    received = datetime(2026, 9, 4, 19, 0, tzinfo=NY)  # Friday before Labor Day
    row = make_request(db, submitted_at=received)
    assert row.reply_due_at == datetime(2026, 9, 9, 17, 0, tzinfo=NY)
    assert row.received_on == date(2026, 9, 4)


def test_every_move_of_the_way_with_its_note_in_the_history(app, db, casey):
    submitted = datetime(2026, 11, 16, 10, 0, tzinfo=NY).astimezone(UTC)  # Monday 10:00
    ref = make_request(db, submitted_at=submitted).reference
    request_work.claim(db, reference=ref, actor=casey, now=NOW)
    db.commit()
    assert row_of(db, ref).status == S.IN_PROGRESS

    callback = datetime(2026, 11, 19, 14, 0, tzinfo=NY)
    move(db, ref, casey, S.CONTACTED, note="Call back Thursday after 2", callback_at=callback)
    row = row_of(db, ref)
    assert row.status == S.CONTACTED
    assert row.callback_at == callback
    # First contact Tuesday 09:00, received Monday 10:00: 7 + 1 business hours.
    assert row.contact_business_minutes == 8 * 60
    assert row.first_contact_at == NOW

    move(
        db, ref, casey, S.AWAITING_RECORDS, note="Pathology requested", now=NOW + timedelta(hours=1)
    )
    assert row_of(db, ref).status == S.AWAITING_RECORDS
    assert row_of(db, ref).callback_at is None

    move(
        db, ref, casey, S.SCHEDULED, appointment_on=date(2026, 12, 3), now=NOW + timedelta(hours=2)
    )
    row = row_of(db, ref)
    assert (row.status, row.appointment_on) == (S.SCHEDULED, date(2026, 12, 3))
    assert row.contact_business_minutes == 8 * 60, "the first contact is kept"

    move(db, ref, casey, S.CLOSED, close_reason=CloseReason.OTHER, note="Seen in clinic")
    row = row_of(db, ref)
    assert (row.status, row.closed_reason) == (S.CLOSED, CloseReason.OTHER)

    events = db.scalars(select(RequestEvent).order_by(RequestEvent.id)).all()
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        ("claim", None, "in_progress"),
        ("status", "in_progress", "contacted"),
        ("status", "contacted", "awaiting_records"),
        ("status", "awaiting_records", "scheduled"),
        ("status", "scheduled", "closed"),
    ]
    assert events[1].note == "Call back Thursday after 2"
    assert events[1].callback_at == callback
    assert events[3].appointment_on == date(2026, 12, 3)


@pytest.mark.parametrize(
    ("start", "to", "extra", "message"),
    [
        (S.IN_PROGRESS, S.AWAITING_RECORDS, {}, "cannot be moved to awaiting records"),
        (S.IN_PROGRESS, S.NEW, {}, "cannot be moved to new"),
        (S.SCHEDULED, S.AWAITING_RECORDS, {}, "cannot be moved to awaiting records"),
        (S.CLOSED, S.CONTACTED, {}, "cannot be moved to contacted"),
        (S.IN_PROGRESS, S.SCHEDULED, {}, "Enter the appointment date"),
        (S.IN_PROGRESS, S.SCHEDULED, {"appointment_on": date(2026, 11, 16)}, "has passed"),
        (S.IN_PROGRESS, S.CONTACTED, {"callback_at": NOW - timedelta(minutes=1)}, "later than now"),
        (S.CONTACTED, S.CLOSED, {}, "Choose why the request is being closed"),
    ],
)
def test_refused_moves_say_why_and_change_nothing(db, casey, start, to, extra, message):
    row = make_request(db)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == row.id)
        .values(status=start, claimed_by_id=casey.staff_id)
    )
    db.commit()
    with pytest.raises(Refused, match=message):
        move(db, row.reference, casey, to, **extra)
    db.rollback()
    assert row_of(db, row.reference).status == start
    assert db.scalars(select(RequestEvent)).all() == []


def test_only_the_claimer_moves_and_only_closing_skips_the_claim(app, db, casey):
    robin = actor_for(make_staff(app, db, email="robin@example.org", name="Robin"))
    ref = make_request(db).reference
    with pytest.raises(Refused, match="new cannot be moved to contacted"):
        move(db, ref, casey, S.CONTACTED)
    db.rollback()
    released = make_request(db)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == released.id)
        .values(status=S.CONTACTED)
    )
    db.commit()
    with pytest.raises(Refused, match="Claim the request"):
        move(db, released.reference, casey, S.SCHEDULED, appointment_on=date(2026, 12, 1))
    db.rollback()
    request_work.claim(db, reference=ref, actor=casey, now=NOW)
    db.commit()
    with pytest.raises(Refused, match="only they can change its status"):
        move(db, ref, robin, S.CONTACTED)


def test_reopen_by_an_admin_with_a_reason(db, casey, ada):
    ref = make_request(db).reference
    request_work.claim(db, reference=ref, actor=casey, now=NOW)
    move(db, ref, casey, S.CONTACTED)
    move(db, ref, casey, S.CLOSED, close_reason=CloseReason.DECLINED)

    with pytest.raises(Refused, match="Only an admin"):
        request_work.reopen(db, reference=ref, actor=casey, reason="She changed her mind")
    with pytest.raises(Refused, match="Write why"):
        request_work.reopen(db, reference=ref, actor=ada, reason="  ")
    db.rollback()

    request_work.reopen(db, reference=ref, actor=ada, reason="She called back: wants a visit")
    db.commit()
    row = row_of(db, ref)
    # She had been reached, so the request goes back to contacted, still Casey's.
    assert (row.status, row.closed_reason, row.closed_at) == (S.CONTACTED, None, None)
    assert row.claimed_by_id == casey.staff_id
    event = db.scalars(select(RequestEvent).order_by(RequestEvent.id.desc())).first()
    assert (event.kind, event.to_status, event.note) == (
        EventKind.REOPEN,
        S.CONTACTED,
        "She called back: wants a visit",
    )
    assert db.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc())).first() == "reopen"
    with pytest.raises(Refused, match="Only a closed request"):
        request_work.reopen(db, reference=ref, actor=ada, reason="again")


def test_reopening_a_request_nobody_reached_puts_it_back_as_new(db, ada):
    ref = make_request(db).reference
    move(db, ref, ada, S.CLOSED, close_reason=CloseReason.DUPLICATE)
    request_work.reopen(db, reference=ref, actor=ada, reason="Not a duplicate after all")
    db.commit()
    assert row_of(db, ref).status == S.NEW


def test_take_next_claims_the_oldest_unclaimed_request_needing_action(app, db, casey):
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    closed = make_request(db, submitted_at=start)
    claimed = make_request(db, submitted_at=start + timedelta(hours=1))
    interpreter = make_request(db, submitted_at=start + timedelta(hours=2), interpreter_needed=True)
    referred = make_request(db, submitted_at=start + timedelta(hours=3), referral=a_referral())
    plain = make_request(db, submitted_at=start + timedelta(hours=4))
    robin = make_staff(app, db, email="robin@example.org", name="Robin")
    db.execute(
        update(AppointmentRequest).where(AppointmentRequest.id == closed.id).values(status=S.CLOSED)
    )
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == claimed.id)
        .values(claimed_by_id=robin.id, status=S.IN_PROGRESS)
    )
    db.commit()

    def take(**filters):
        ref = request_work.take_next(db, actor=casey, now=NOW, **filters)
        db.commit()
        return ref

    assert take(referral=ReferralFilter.REFERRED) == referred.reference
    assert take(interpreter=InterpreterFilter.NOT_NEEDED) == plain.reference
    assert take(interpreter=InterpreterFilter.NOT_NEEDED) is None
    assert take() == interpreter.reference
    assert take() is None
    row = row_of(db, interpreter.reference)
    assert (row.status, row.claimed_by_id) == (S.IN_PROGRESS, casey.staff_id)
    kinds = db.scalars(select(RequestEvent.kind).where(RequestEvent.request_id == row.id)).all()
    assert kinds == ["claim"]


def test_two_coordinators_taking_next_at_once_get_different_requests(app, db, backend):
    if backend != "postgresql":
        pytest.skip("row locks between two connections: PostgreSQL only")
    first = make_request(db, submitted_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    second = make_request(db, submitted_at=datetime(2026, 11, 2, 10, 0, tzinfo=UTC))
    staff = [make_staff(app, db, email=f"c{i}@example.org", name=f"C{i}") for i in range(2)]
    actors = [actor_for(s) for s in staff]
    ids = [s.id for s in staff]
    db.rollback()
    engine = app.extensions["db_engine"]
    barrier = threading.Barrier(2)
    taken: dict[int, str | None] = {}
    holding = threading.Event()

    took: dict[int, float] = {}
    pids: dict[int, int] = {}
    # What the second one's connection waited on while the first held its row.
    waited_on: set[str] = set()

    def waiting(pid: int) -> set[str]:
        with engine.connect() as conn:
            return set(
                conn.scalars(
                    text("SELECT locktype FROM pg_locks WHERE pid = :pid AND NOT granted"),
                    {"pid": pid},
                )
            )

    def take(i: int) -> None:
        with Session(engine) as session:
            pids[i] = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            barrier.wait()
            if i == 1:
                holding.wait(5)  # the first one holds its row lock, uncommitted
            started = time.monotonic()
            taken[i] = request_work.take_next(session, actor=actors[i], now=NOW)
            took[i] = time.monotonic() - started
            if i == 0:
                holding.set()
                # Keep the lock until the other has chosen (at most 5 s): it must skip
                # the locked row, not wait for it. It may wait for the audit trail's lock
                # (issue 14: entries are chained, one writer at a time, until commit),
                # never for the row: once it waits on anything, this one commits.
                deadline = time.monotonic() + 5
                while 1 not in taken and time.monotonic() < deadline:
                    locks = waiting(pids[1])
                    waited_on.update(locks)
                    if locks:
                        break
                    time.sleep(0.01)
            session.commit()

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert taken[0] == first.reference
    assert taken[1] == second.reference, "the locked oldest request is skipped"
    assert took[1] < 2, "and not waited for"
    assert waited_on <= {"advisory"}, "only the audit trail's lock, never the row's"
    db.expire_all()
    holders = {r.reference: r.claimed_by_id for r in db.scalars(select(AppointmentRequest))}
    assert holders == {first.reference: ids[0], second.reference: ids[1]}


def test_twenty_takes_at_once_never_give_one_request_twice(app, db, backend):
    if backend != "postgresql":
        pytest.skip("concurrent sessions: PostgreSQL only")
    refs = {
        make_request(
            db, submitted_at=datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(minutes=i)
        ).reference
        for i in range(12)
    }
    people = [
        actor_for(make_staff(app, db, email=f"p{i}@example.org", name=f"P{i}")) for i in range(20)
    ]
    db.rollback()
    engine = app.extensions["db_engine"]
    barrier = threading.Barrier(len(people))
    got: list[str | None] = []
    lock = threading.Lock()

    def take(person) -> None:
        with Session(engine) as session:
            barrier.wait()
            ref = request_work.take_next(session, actor=person, now=NOW)
            session.commit()
            with lock:
                got.append(ref)

    threads = [threading.Thread(target=take, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    claimed = [r for r in got if r is not None]
    assert len(got) == 20
    assert sorted(claimed) == sorted(refs), "every request taken once, none twice"


def test_my_work_lists_what_i_hold_by_what_is_due_next(app, db, casey):
    clock = BusinessClock()
    now = datetime(2026, 11, 18, 9, 0, tzinfo=NY).astimezone(UTC)  # Wednesday 09:00
    start = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    rows = {
        name: make_request(db, submitted_at=start + timedelta(hours=i))
        for i, name in enumerate(
            [
                "later_callback",
                "today_callback",
                "overdue_callback",
                "no_callback",
                "scheduled",
                "fresh",
                "closed",
                "not_mine",
            ]
        )
    }
    fresh_due = datetime(2026, 11, 20, 9, tzinfo=NY).astimezone(UTC)
    values = {
        "later_callback": dict(
            status=S.CONTACTED, callback_at=datetime(2026, 11, 20, 14, tzinfo=NY).astimezone(UTC)
        ),
        "today_callback": dict(
            status=S.CONTACTED, callback_at=datetime(2026, 11, 18, 14, tzinfo=NY).astimezone(UTC)
        ),
        "overdue_callback": dict(
            status=S.AWAITING_RECORDS,
            callback_at=datetime(2026, 11, 17, 16, tzinfo=NY).astimezone(UTC),
        ),
        "no_callback": dict(status=S.CONTACTED),
        "scheduled": dict(status=S.SCHEDULED, appointment_on=date(2026, 12, 1)),
        "fresh": dict(status=S.IN_PROGRESS, reply_due_at=fresh_due),
        "closed": dict(status=S.CLOSED),
        "not_mine": dict(status=S.CONTACTED),
    }
    robin = make_staff(app, db, email="robin@example.org", name="Robin")
    for name, v in values.items():
        holder = robin.id if name == "not_mine" else casey.staff_id
        db.execute(
            update(AppointmentRequest)
            .where(AppointmentRequest.id == rows[name].id)
            .values(claimed_by_id=holder, **v)
        )
    db.commit()
    work = request_work.my_work(db, staff_id=casey.staff_id, now=now, clock=clock)
    order = {r.reference: n for n, r in enumerate(work.rows)}
    names = sorted(
        (n for n in rows if rows[n].reference in order), key=lambda n: order[rows[n].reference]
    )
    assert names == [
        "overdue_callback",
        "today_callback",
        "fresh",
        "later_callback",
        "scheduled",
        "no_callback",
    ]
    by_name = {n: work.rows[order[rows[n].reference]] for n in names}
    assert (
        by_name["overdue_callback"].past_due and by_name["overdue_callback"].due_kind == "callback"
    )
    assert by_name["today_callback"].due_today and not by_name["today_callback"].past_due
    assert by_name["fresh"].due_kind == "reply"
    assert by_name["scheduled"].appointment_on == date(2026, 12, 1)


def test_the_overdue_filter_is_past_due_without_first_contact(app, db, casey):
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    late = make_request(db, submitted_at=datetime(2026, 11, 2, 14, tzinfo=UTC))
    contacted_late = make_request(db, submitted_at=datetime(2026, 11, 2, 15, tzinfo=UTC))
    make_request(db, submitted_at=now - timedelta(hours=1))
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == contacted_late.id)
        .values(status=S.CONTACTED)
    )
    db.commit()
    page = intake_queue.queue_page(
        db, filters=QueueFilters(status=StatusFilter.OVERDUE), viewer_id=casey.staff_id, now=now
    )
    assert [r.reference for r in page.rows] == [late.reference]
    assert page.rows[0].overdue


def test_reply_due_times_are_recomputed_for_waiting_requests_only(app, db):
    waiting = make_request(db, submitted_at=datetime(2026, 12, 23, 16, tzinfo=NY))
    contacted = make_request(db, submitted_at=datetime(2026, 12, 23, 16, tzinfo=NY))
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == contacted.id)
        .values(status=S.CONTACTED)
    )
    db.commit()
    closed_on_eve = BusinessClock(closures=frozenset({date(2026, 12, 24)}))
    assert request_work.recompute_reply_due(db, clock=closed_on_eve) == 1
    db.commit()
    assert row_of(db, waiting.reference).reply_due_at == datetime(2026, 12, 29, 16, tzinfo=NY)
    assert row_of(db, contacted.reference).reply_due_at == datetime(2026, 12, 28, 16, tzinfo=NY)


def test_the_reply_due_command(app, db):
    make_request(db)
    result = app.test_cli_runner().invoke(args=["intake", "reply-due"])
    assert result.exit_code == 0, result.output
    assert "Recomputed the reply-due time of 1 waiting request(s)." in result.output
