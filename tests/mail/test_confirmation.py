"""The confirmation e-mail: queued with the request, delivered by the worker to a real SMTP
server, with the right headers and parts and no patient data."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta

from sqlalchemy import select

from app.mail import messages, outbox
from app.mail.worker import Worker, now_utc
from app.models import MessageKind, OutboxMessage, OutboxStatus
from app.requests import reference_codes
from tests.conftest import count_rows, make_test_app
from tests.ops.test_logs import MARKED, MARKERS
from tests.support.forms import caregiver_answers, submit, valid_answers


def _submit(client, answers=None) -> str:
    response = submit(client, answers or valid_answers())
    assert response.status_code == 303
    return response.headers["Location"].rsplit("/", 1)[1]


def _without_to(raw: bytes) -> str:
    """The message as delivered, less its To header: the one place the address must be."""
    text = raw.decode()
    return re.sub(r"^To: .*\r?\n", "", text, flags=re.MULTILINE)


def test_a_stored_request_has_its_confirmation_queued(client, db):
    _submit(client)
    message = db.scalars(select(OutboxMessage)).one()
    assert message.kind == MessageKind.CONFIRMATION
    assert message.status == OutboxStatus.PENDING
    assert message.recipient == "Maria.Santos@example.com"


def test_without_the_patients_email_the_caregiver_gets_the_confirmation(client, db):
    caregiver = caregiver_answers(
        submitter_phone="727 555 0111", submitter_email="ana@example.com", email=""
    )
    _submit(client, caregiver)
    assert db.scalars(select(OutboxMessage.recipient)).one() == "ana@example.com"


def test_with_no_email_at_all_nothing_is_queued(client, db):
    _submit(client, valid_answers(email=""))
    assert count_rows(db, "outbox_messages") == 0


def test_the_confirmation_arrives_with_its_headers_and_parts_and_no_patient_data(
    app, client, db, smtp
):
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    # Everything our side logs; the test SMTP server's own log is the other side's.
    handler.addFilter(lambda record: not record.name.startswith("mail.log"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        reference = _submit(client, MARKED)
        assert Worker(app).deliver_due() == 1
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    [received] = smtp.wait_for(1)
    assert received.rcpt_tos == ["quillon.patient@example.com"]
    message = received.message
    display = reference_codes.display(reference)
    assert message["To"] == "quillon.patient@example.com"
    assert message["From"] == app.config["MAIL_SENDER"]
    assert display in message["Subject"]
    assert "cancer" not in message["Subject"].lower()
    assert re.fullmatch(r"<outbox\.[0-9a-f]{32}@localhost>", message["Message-ID"])
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert display in part
        assert "within 2 business days" in part
        assert app.config["CENTER_PHONE"] in part
        assert app.config["CENTER_CALLBACK_PHONE"] in part
    assert '<html lang="en">' in html
    assert message["Content-Language"] == "en"
    assert "<title>" in html

    # Nothing the person typed is in the message (but the address it went to), the
    # database row once sent, or the logs.
    delivered = _without_to(received.raw).lower()
    stored = db.scalars(select(OutboxMessage)).one()
    row_text = " ".join(str(getattr(stored, c.key)) for c in OutboxMessage.__table__.columns)
    for marker in MARKERS:
        assert marker.lower() not in delivered, marker
        assert marker.lower() not in row_text.lower(), marker
        assert marker.lower() not in log.getvalue().lower(), marker
    assert stored.status == OutboxStatus.SENT
    assert stored.recipient is None and stored.payload is None
    assert stored.recipient_hash and len(stored.recipient_hash) == 64


def test_a_re_send_is_the_same_message_with_the_same_message_id(app, client, db, smtp):
    _submit(client)
    first = db.scalars(select(OutboxMessage)).one()
    worker = Worker(app)
    claimed = _claim(worker)
    a = _build(worker, claimed)
    b = _build(worker, claimed)
    assert a.as_bytes() == b.as_bytes()
    assert a["Message-ID"] == f"<outbox.{first.token}@localhost>"


def _claim(worker):
    with worker._session() as session:
        claimed = outbox.claim_next(session, now=now_utc(), lease=timedelta(minutes=5))
        session.commit()
    return claimed


def _build(worker, claimed):
    return messages.build(
        kind=claimed.kind,
        locale=claimed.locale,
        token=claimed.token,
        recipient=claimed.recipient,
        payload=claimed.payload,
        created_at=claimed.created_at,
        settings=worker.settings,
    )


def test_without_smtp_the_message_is_logged_by_hash_and_marked_sent(database_url, db, smtp, caplog):

    app = make_test_app(database_url, RATELIMIT_ENABLED=False, SMTP_HOST=None)
    client = app.test_client()
    _submit(client)
    with caplog.at_level(logging.INFO, logger="app.mail.worker"):
        assert Worker(app).deliver_due() == 1
    stored = db.scalars(select(OutboxMessage)).one()
    assert stored.status == OutboxStatus.SENT
    logged = caplog.text
    assert f"would send to {stored.recipient_hash}" in logged
    assert "maria.santos" not in logged.lower()
    assert smtp.received == []
    assert count_rows(db, "outbox_messages") == 1
