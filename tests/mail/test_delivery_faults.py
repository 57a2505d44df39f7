"""What the worker does when the mail server says no, says later, or is not there."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.mail import outbox
from app.mail.worker import Worker, now_utc
from app.models import AuditEvent, OutboxMessage, OutboxStatus, StaffRole
from tests.support.forms import submit, valid_answers
from tests.support.smtp import SmtpServer
from tests.support.staff import csrf_from, make_staff, sign_in

ADDRESS = "Maria.Santos@example.com"  # as the form stores it


def _submit(client, **answers) -> None:
    assert submit(client, valid_answers(**answers)).status_code == 303


def _message(db) -> OutboxMessage:
    db.rollback()
    return db.scalars(select(OutboxMessage)).one()


def _make_due(db) -> None:
    """As if the backoff had passed."""
    db.execute(update(OutboxMessage).values(next_attempt_at=now_utc() - timedelta(seconds=1)))
    db.commit()


def test_a_temporary_refusal_is_retried_later_and_then_delivered(app, client, db, smtp):
    smtp.rules.rcpt_answers[ADDRESS] = ["451 4.7.1 Greylisted, try again later"]
    _submit(client)
    worker = Worker(app)

    assert worker.deliver_due() == 1
    waiting = _message(db)
    assert waiting.status == OutboxStatus.PENDING
    assert waiting.attempts == 1
    assert "451" in waiting.last_error
    delay = waiting.next_attempt_at - now_utc()
    assert timedelta(seconds=50) < delay <= timedelta(seconds=60)
    # Not due yet: nothing is tried again straight away.
    assert worker.deliver_due() == 0

    _make_due(db)
    assert worker.deliver_due() == 1
    assert _message(db).status == OutboxStatus.SENT
    assert len(smtp.received) == 1
    assert smtp.rcpt_attempts == [ADDRESS, ADDRESS]


def test_the_wait_doubles_up_to_a_cap():
    base, cap = timedelta(seconds=30), timedelta(seconds=300)
    waits = [outbox.retry_delay(n, base=base, cap=cap).total_seconds() for n in range(1, 7)]
    assert waits == [30, 60, 120, 240, 300, 300]


def test_it_gives_up_after_the_configured_number_of_tries(app, client, db, smtp):
    smtp.rules.rcpt_answers[ADDRESS] = ["452 4.2.2 Mailbox full"] * 5
    _submit(client)
    worker = Worker(app)
    for _ in range(app.config["OUTBOX_MAX_ATTEMPTS"]):
        worker.deliver_due()
        _make_due(db)
    failed = _message(db)
    assert failed.status == OutboxStatus.FAILED
    assert failed.last_error.startswith("Gave up after 3 tries")
    assert worker.deliver_due() == 0
    assert len(smtp.rcpt_attempts) == 3 and smtp.received == []


def test_a_refused_address_is_recorded_once_without_the_address_and_not_retried(
    app, client, db, smtp
):
    smtp.rules.rcpt_answers[ADDRESS] = [f"550 5.1.1 <{ADDRESS}>: Recipient address rejected"]
    _submit(client)
    worker = Worker(app)
    assert worker.deliver_due() == 1
    failed = _message(db)
    assert failed.status == OutboxStatus.FAILED
    assert "550 5.1.1" in failed.last_error
    assert "maria" not in failed.last_error.lower()
    # No retry storm: the refusal is final until someone sends it again.
    _make_due(db)
    for _ in range(3):
        assert worker.deliver_due() == 0
    assert smtp.rcpt_attempts == [ADDRESS]


def test_admins_see_the_refusal_and_can_send_it_again(app, client, db, smtp):
    smtp.rules.rcpt_answers[ADDRESS] = ["550 5.1.1 No such user here"]
    _submit(client)
    Worker(app).deliver_due()
    make_staff(app, db, email="ada@example.org", name="Ada Admin", role=StaffRole.ADMIN)
    staff = app.test_client()
    sign_in(staff, "ada@example.org")

    page = staff.get("/staff/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "550 5.1.1 No such user here" in html
    assert "Confirmation to the person" in html
    assert "maria" not in html.lower()
    token = _message(db).token

    response = staff.post(f"/staff/outbox/{token}/send-again", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    again = _message(db)
    assert again.status == OutboxStatus.PENDING and again.attempts == 0
    assert db.scalars(select(AuditEvent.action)).all()[-1] == "outbox_send_again"

    # The address was fixed on the server's side: this time it goes, same Message-ID.
    assert Worker(app).deliver_due() == 1
    [received] = smtp.wait_for(1)
    assert received.message["Message-ID"] == f"<outbox.{token}@localhost>"
    assert "No failed messages." in staff.get("/staff/outbox").get_data(as_text=True)


def test_sending_again_a_message_that_is_not_failed_is_refused(app, client, db):
    make_staff(app, db, email="ada@example.org", name="Ada Admin", role=StaffRole.ADMIN)
    staff = app.test_client()
    sign_in(staff, "ada@example.org")
    html = staff.get("/staff/outbox").get_data(as_text=True)
    response = staff.post(
        "/staff/outbox/0123456789abcdef/send-again",
        data={"csrf_token": csrf_from(html)},
        follow_redirects=True,
    )
    assert "That message is not waiting to be sent again." in response.get_data(as_text=True)


def test_intake_staff_cannot_open_the_outbox_page(app, client, db):
    make_staff(app, db)
    staff = app.test_client()
    sign_in(staff)
    assert staff.get("/staff/outbox").status_code == 403


def test_messages_wait_while_the_server_is_down_and_go_when_it_is_back(app, client, db, smtp):
    smtp.stop()
    _submit(client)
    _submit(client, email="someone.else@example.com")
    worker = Worker(app)
    for _ in range(3):
        assert worker.deliver_due() == 0
    waiting = db.scalars(select(OutboxMessage)).all()
    assert {m.status for m in waiting} == {OutboxStatus.PENDING}
    # Not the messages' fault: no try is counted against them.
    assert {m.attempts for m in waiting} == {0}

    back = SmtpServer(smtp.port).start()
    try:
        assert worker.deliver_due() == 2
        assert len(back.wait_for(2)) == 2
    finally:
        back.stop()
    db.rollback()
    assert {m.status for m in db.scalars(select(OutboxMessage))} == {OutboxStatus.SENT}


def test_the_status_command_says_when_mail_is_stuck(app, client, db):
    _submit(client)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["outbox", "status"])
    assert result.exit_code == 0
    assert "pending=1 sending=0 failed=0" in result.output
    db.execute(update(OutboxMessage).values(created_at=now_utc() - timedelta(minutes=20)))
    db.commit()
    result = runner.invoke(args=["outbox", "status", "--max-wait-minutes", "15"])
    assert result.exit_code == 1
    assert "oldest_pending_minutes=20" in result.output


def test_an_address_the_server_cannot_take_fails_alone_and_the_queue_moves_on(
    app, client, db, smtp
):
    # The form accepts internationalised addresses; this server has no SMTPUTF8.
    smtp.stop()
    strict = SmtpServer(smtp.port, enable_SMTPUTF8=False).start()
    try:
        _submit(client, email="josé@example.com")
        _submit(client, email="plain@example.com")
        assert Worker(app).deliver_due() == 2
        assert [r.rcpt_tos for r in strict.wait_for(1)] == [["plain@example.com"]]
    finally:
        strict.stop()
    db.rollback()
    by_status = {m.status: m for m in db.scalars(select(OutboxMessage))}
    assert "SMTPUTF8" in by_status[OutboxStatus.FAILED].last_error
    assert OutboxStatus.SENT in by_status


def test_a_server_with_smtputf8_gets_the_internationalised_address(app, client, db, smtp):
    _submit(client, email="josé@example.com")
    assert Worker(app).deliver_due() == 1
    [received] = smtp.wait_for(1)
    assert received.rcpt_tos == ["josé@example.com"]
    assert received.message["To"] == "josé@example.com"
