"""Session limits: an absolute lifetime beside the idle limit, a fresh proof of identity
before a bulk export or an account change, and admins ending anyone's sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from app.models import AuditEvent, StaffRole
from tests.support.staff import (
    csrf_from,
    last_account_event,
    sign_in,
    signed_in_client,
    totp_code,
)


def last_action(db) -> str:
    return last_account_event(db).action


def test_a_busy_session_still_ends_after_its_lifetime(app, db):
    client, _ = signed_in_client(app, db)
    hours = app.config["STAFF_SESSION_HOURS"]
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        # Busy all day: a page every ten minutes, never idle for long.
        steps = int(hours * 6) - 1
        for _ in range(steps):
            traveller.shift(timedelta(minutes=10))
            assert client.get("/staff/queue").status_code == 200
        traveller.shift(timedelta(minutes=11))
        response = client.get("/staff/queue")
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert f"a session lasts at most {hours} hours" in page
        assert client.get("/staff/queue").status_code == 302
    assert last_action(db) == "session_expired"


def export(client):
    """Press the queue page's export button, as an admin's browser would (a POST with the
    page's CSRF token, from the queue page)."""
    html = client.get("/staff/queue").get_data(as_text=True)
    return client.post(
        "/staff/export.csv",
        data={"csrf_token": csrf_from(html)},
        headers={"Referer": "http://localhost/staff/queue"},
    )


def test_export_needs_a_fresh_proof_after_a_few_minutes(app, db):
    client, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    assert export(client).status_code == 200  # just signed in
    with client.session_transaction() as session:
        session["staff_proved"] -= 60 * app.config["STAFF_REAUTH_MINUTES"] + 1
    response = export(client)
    assert response.status_code == 303
    assert "/staff/confirm" in response.headers["Location"]

    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    wrong = client.post(
        response.headers["Location"],
        data={"secret": "not my password", "csrf_token": csrf_from(html)},
    )
    assert wrong.status_code == 400
    assert export(client).status_code == 303

    page = client.get(response.headers["Location"])
    done = client.post(
        response.headers["Location"],
        data={
            "secret": totp_code(app, "casey@example.org"),
            "csrf_token": csrf_from(page.get_data(True)),
        },
    )
    assert done.status_code == 303
    # Back to the page the export is started from (a POST cannot be replayed).
    assert done.headers["Location"].endswith("/staff/queue")
    assert export(client).status_code == 200
    db.rollback()
    assert "proof_confirmed" in [e.action for e in db.scalars(select(AuditEvent))]


def test_the_password_is_a_fresh_proof_too(app, db):
    client, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    with client.session_transaction() as session:
        session["staff_proved"] = 0
    html = client.get("/staff/confirm").get_data(as_text=True)
    done = client.post(
        "/staff/confirm?next=/staff/accounts",
        data={"secret": "correct horse battery", "csrf_token": csrf_from(html)},
    )
    assert done.headers["Location"].endswith("/staff/accounts")
    assert client.get("/staff/accounts/new").status_code == 200


def test_an_admin_ends_another_accounts_sessions(app, db):
    casey, casey_row = signed_in_client(app, db)
    admin, _ = signed_in_client(
        app, db, role=StaffRole.ADMIN, email="ada@example.org", name="Ada Admin"
    )
    assert casey.get("/staff/queue").status_code == 200
    page = admin.get(f"/staff/accounts/{casey_row.id}").get_data(as_text=True)
    response = admin.post(
        f"/staff/accounts/{casey_row.id}/end-sessions", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303
    assert casey.get("/staff/queue").status_code == 302
    assert last_action(db) == "sessions_ended"
    # Casey signs in again as usual.
    assert sign_in(casey).status_code == 303


def test_a_stale_proof_sends_an_account_change_to_the_check(app, db):
    _casey, casey_row = signed_in_client(app, db)
    admin, _ = signed_in_client(
        app, db, role=StaffRole.ADMIN, email="ada@example.org", name="Ada Admin"
    )
    page = admin.get(f"/staff/accounts/{casey_row.id}").get_data(as_text=True)
    with admin.session_transaction() as session:
        session["staff_proved"] = 0
    response = admin.post(
        f"/staff/accounts/{casey_row.id}/deactivate",
        data={"csrf_token": csrf_from(page)},
        headers={"Referer": f"http://localhost/staff/accounts/{casey_row.id}"},
    )
    assert response.status_code == 303
    assert "/staff/confirm?next=/staff/accounts/" in response.headers["Location"]
    db.rollback()
    assert db.get(type(casey_row), casey_row.id).active
