"""Overdue has one home (app/requests/overdue.py): nobody reached yet and past the stored
reply-due time. Every place that says "overdue" agrees with it on the same requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from app.common.actor import Actor
from app.mail import outbox
from app.models import AppointmentRequest
from app.requests import access_metrics, intake_queue, overdue, request_work
from app.requests.business_clock import BusinessClock
from app.requests.intake_queue import QueueFilters, StatusFilter
from app.vocabulary import RequestStatus, StaffRole
from tests.support.staff import make_request, make_staff

DUE = datetime(2026, 11, 24, 15, tzinfo=UTC)


def test_overdue_means_past_the_stored_due_time_without_a_first_contact():
    new = RequestStatus.NEW
    assert not overdue.is_overdue(status=new, reply_due_at=DUE, now=DUE)
    assert overdue.is_overdue(status=new, reply_due_at=DUE, now=DUE + timedelta(seconds=1))
    later = DUE + timedelta(days=9)
    assert overdue.is_overdue(status=RequestStatus.IN_PROGRESS, reply_due_at=DUE, now=later)
    for reached in (RequestStatus.CONTACTED, RequestStatus.SCHEDULED, RequestStatus.CLOSED):
        assert not overdue.is_overdue(status=reached, reply_due_at=DUE, now=later)


def test_the_queue_the_request_page_the_metrics_and_the_alert_agree(app, db):
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    clock = BusinessClock()
    late = make_request(db, submitted_at=datetime(2026, 11, 2, 14, tzinfo=UTC))
    late_claimed = make_request(db, submitted_at=datetime(2026, 11, 2, 15, tzinfo=UTC))
    reached_late = make_request(db, submitted_at=datetime(2026, 11, 2, 16, tzinfo=UTC))
    fresh = make_request(db, submitted_at=now - timedelta(hours=1))
    ar = AppointmentRequest
    db.execute(update(ar).where(ar.id == late_claimed.id).values(status=RequestStatus.IN_PROGRESS))
    db.execute(update(ar).where(ar.id == reached_late.id).values(status=RequestStatus.CONTACTED))
    db.commit()
    admin = make_staff(app, db, role=StaffRole.ADMIN)
    actor = Actor(staff_id=admin.id, role=admin.role)
    expected = {late.reference, late_claimed.reference}

    queue = intake_queue.queue_page(
        db, filters=QueueFilters(status=StatusFilter.OVERDUE), viewer_id=admin.id, now=now
    )
    assert {r.reference for r in queue.rows} == expected
    every = intake_queue.queue_page(
        db, filters=QueueFilters(status=StatusFilter.ALL), viewer_id=admin.id, now=now
    )
    assert {r.reference for r in every.rows if r.overdue} == expected
    pages = {
        r.reference: request_work.request_page(db, reference=r.reference, actor=actor, now=now)
        for r in (late, late_claimed, reached_late, fresh)
    }
    assert {ref for ref, page in pages.items() if page.overdue} == expected
    assert overdue.count(db, now=now) == 2
    metrics = access_metrics.access_metrics(
        db, start=clock.today(late.submitted_at), end=clock.today(now), now=now
    )
    assert metrics.overall.overdue == 2
    # The intake alert counts the same.
    alert = outbox.queue_intake_alert(
        db, recipient="intake@example.org", now=now, every=timedelta(0), queue_url="https://x/q"
    )
    assert alert is not None and alert.overdue == 2
