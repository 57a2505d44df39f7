"""Header injection, the outbox's transaction, the intake alert and keeping data short."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.mail import messages, outbox
from app.mail.worker import Worker, now_utc
from app.models import (
    AppointmentRequest,
    MessageKind,
    OutboxMessage,
    OutboxStatus,
    RequestDocument,
)
from app.public.journey import store_request
from tests.ops.test_logs import MARKERS
from tests.support.staff import request_details

INJECTION = "\r\nBcc: victim@example.net\r\n"
SETTINGS = messages.MailSettings(
    sender="Appointments <appointments@example.org>",
    center_name="Center",
    center_phone="1-888-663-3488",
    callback_phone="1-888-663-3488",
    reply_days=2,
)


def _build(**changes):
    values = {
        "kind": MessageKind.CONFIRMATION,
        "locale": "en",
        "token": "0123456789abcdef0123456789abcdef",
        "recipient": "person@example.com",
        "payload": {"reference": "K7QM4XPD9RTA"},
        "created_at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
        "settings": SETTINGS,
    }
    values.update(changes)
    return messages.build(**values)


ALERT = {"arrived": 1, "interpreter": 0, "overdue": 0, "queue_url": "https://x.example/q"}


@pytest.mark.parametrize(
    "changes",
    [
        {"recipient": "person@example.com" + INJECTION},
        {"recipient": "person@example.com\nBcc: victim@example.net"},
        {"recipient": "person@example.com, victim@example.net"},
        {"settings": dataclasses.replace(SETTINGS, sender="a@example.org\r\nX: y")},
        {"payload": {"reference": "K7QM4XPD9RTA" + INJECTION}},
        {"token": "0123456789abcdef" + INJECTION},
        {
            "kind": MessageKind.INTAKE_ALERT,
            "payload": {**ALERT, "queue_url": "https://x" + INJECTION},
        },
        {"locale": "en" + INJECTION},
    ],
    ids=["to-crlf", "to-lf", "to-two", "from", "subject-reference", "message-id", "url", "locale"],
)
def test_no_value_can_add_a_header(changes):
    try:
        built = _build(**changes)
    except messages.MessageRefused:
        return
    # Built anyway (an unknown locale falls back to English): no header was added.
    raw = built.as_bytes()
    assert b"Bcc:" not in raw and b"victim" not in raw


def test_an_injected_value_is_never_sent_and_is_shown_as_failed(app, db, smtp):
    store_request(db, details=request_details(), token="i" * 32)
    db.execute(update(OutboxMessage).values(recipient="person@example.com" + INJECTION))
    db.commit()
    assert Worker(app).deliver_due() == 1
    db.rollback()
    failed = db.scalars(select(OutboxMessage)).one()
    assert failed.status == OutboxStatus.FAILED
    assert failed.last_error.startswith("The message could not be built")
    assert smtp.rcpt_attempts == [] and smtp.received == []


def test_a_rolled_back_request_never_has_its_e_mail_queued(db):
    store_request(db, details=request_details(), token="r" * 32)
    db.rollback()
    assert db.scalars(select(OutboxMessage)).all() == []
    store_request(db, details=request_details(), token="c" * 32)
    db.commit()
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


def test_a_resubmitted_form_queues_one_e_mail(db):
    store_request(db, details=request_details(), token="d" * 32)
    store_request(db, details=request_details(), token="d" * 32)
    db.commit()
    assert len(db.scalars(select(OutboxMessage)).all()) == 1


# The intake alert -------------------------------------------------------------------------


@pytest.fixture
def app_overrides(smtp) -> dict:
    return {
        **smtp.config(),
        "INTAKE_MAILBOX": "Intake team <intake@example.org>",
        "INTAKE_ALERT_MINUTES": 5,
        "SITE_URL": "https://intake.example.org/",
    }


def _request(db, **changes) -> int:
    token = secrets.token_hex(16)
    store_request(db, details=request_details(**changes), token=token)
    request_id = db.scalar(
        select(AppointmentRequest.id).where(AppointmentRequest.submission_token == token)
    )
    # Committed last: a read left open would hold SQLite's snapshot against the worker.
    db.commit()
    return request_id


def _alerts(db) -> list[OutboxMessage]:
    db.rollback()
    return list(
        db.scalars(select(OutboxMessage).where(OutboxMessage.kind == MessageKind.INTAKE_ALERT))
    )


def test_the_intake_alert_counts_arrivals_interpreters_and_overdue_without_patient_data(
    app, db, smtp
):
    _request(db, first_name="Quillonfirst", interpreter_needed=True)
    _request(db, last_name="Quillonlast")
    old = _request(db)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == old)
        .values(
            submitted_at=now_utc() - timedelta(days=10),
            reply_due_at=now_utc() - timedelta(days=8),
        )
    )
    db.commit()
    worker = Worker(app)
    worker.queue_alert()
    worker.queue_alert()  # at most one per interval
    assert len(_alerts(db)) == 1

    worker.deliver_due()
    alert = next(r for r in smtp.wait_for(4) if r.rcpt_tos == ["intake@example.org"])
    message = alert.message
    assert message["Subject"] == "3 new appointment requests"
    text = message.get_body(("plain",)).get_content()
    assert "3 new requests arrived since the last alert." in text
    assert "1 of them needs an interpreter." in text
    assert "1 open request is past the reply promise." in text
    assert "https://intake.example.org/staff/queue" in text
    html = message.get_body(("html",)).get_content()
    assert 'href="https://intake.example.org/staff/queue"' in html
    raw = alert.raw.decode().lower()
    for marker in [*MARKERS, "maria", "santos"]:
        assert marker.lower() not in raw


def test_the_next_alert_waits_for_the_interval_and_counts_only_what_is_new(app, db, smtp):
    _request(db)
    worker = Worker(app)
    worker.queue_alert()
    _request(db)
    _request(db, interpreter_needed=True)
    worker.queue_alert()
    assert len(_alerts(db)) == 1
    # Five minutes later.
    db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.kind == MessageKind.INTAKE_ALERT)
        .values(created_at=now_utc() - timedelta(minutes=6))
    )
    db.commit()
    worker.queue_alert()
    alerts = _alerts(db)
    assert len(alerts) == 2
    assert alerts[1].payload["arrived"] == 2
    assert alerts[1].payload["interpreter"] == 1
    # Nothing new since: no third alert, however long it has been.
    db.execute(update(OutboxMessage).values(created_at=now_utc() - timedelta(hours=1)))
    db.commit()
    worker.queue_alert()
    assert len(_alerts(db)) == 2


def test_two_workers_deciding_at_once_store_one_alert(app, db):
    _request(db)
    now = now_utc()
    args = {
        "recipient": "intake@example.org",
        "now": now,
        "every": timedelta(minutes=5),
        "queue_url": "https://x.example/staff/queue",
    }
    outbox.queue_intake_alert(db, **args)
    db.commit()
    # A second worker that read before the first one stored: same predecessor, same key.
    db.execute(update(OutboxMessage).values(created_at=now - timedelta(minutes=10)))
    db.commit()
    first = _alerts(db)[0]
    db.execute(
        update(OutboxMessage).where(OutboxMessage.id == first.id).values(covers_through_id=0)
    )
    db.commit()
    assert outbox.queue_intake_alert(db, **args) is not None  # chained after the first
    db.commit()
    assert len(_alerts(db)) == 2
    keys = {a.dedupe_key for a in _alerts(db)}
    assert keys == {"intake-alert-after:0", f"intake-alert-after:{first.id}"}


# Keeping only what is needed ---------------------------------------------------------------


def test_old_addresses_and_bodies_are_purged_and_the_hash_kept(app, db):
    store_request(db, details=request_details(), token="p" * 32)
    db.execute(update(OutboxMessage).values(created_at=now_utc() - timedelta(days=40)))
    db.commit()
    worker = Worker(app)
    assert worker.purge() == 1
    db.rollback()
    message = db.scalars(select(OutboxMessage)).one()
    assert message.recipient is None and message.payload is None
    assert message.recipient_hash == outbox.recipient_hash(request_details().email, key=worker.key)
    assert message.status == OutboxStatus.FAILED
    assert worker.purge() == 0


def test_the_alert_counts_documents_sent_from_private_pages_without_names(app, db, smtp):
    request_id = _request(db)
    worker = Worker(app)
    worker.queue_alert()
    # Six minutes later, two records arrive and no new request.
    db.execute(update(OutboxMessage).values(created_at=now_utc() - timedelta(minutes=6)))
    for kind in ("pathology", "insurance_front"):
        db.add(
            RequestDocument(
                request_id=request_id,
                kind=kind,
                sha256=kind.ljust(64, "0"),
                content_type="application/pdf",
                size=10,
                scan_status="clean",
                content=b"%PDF-",
            )
        )
    db.commit()
    worker.queue_alert()
    alerts = _alerts(db)
    assert len(alerts) == 2 and alerts[1].payload["documents"] == 2
    assert alerts[1].payload["arrived"] == 0
    worker.deliver_due()
    received = [r for r in smtp.wait_for(3) if r.rcpt_tos == ["intake@example.org"]]
    message = received[-1].message
    assert message["Subject"] == "2 new documents from patients"
    text = message.get_body(("plain",)).get_content()
    assert "2 documents were sent from the patients' private pages." in text
    for marker in ("pathology", "insurance", "Santos", ".pdf"):
        assert marker.lower() not in received[-1].raw.decode().lower()
