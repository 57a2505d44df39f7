"""Accounts, sign-in, no lock-out, idle time-out and sign-out."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.accounts import staff_accounts
from app.models import AuditEvent, StaffRole
from tests.support.staff import (
    PASSWORD,
    client_from,
    csrf_from,
    make_staff,
    pass_second_factor,
    sign_in,
    signed_in_client,
)

WRONG = "The email address or password is not right"


def audit_actions(db) -> list[tuple[str, str | None]]:
    """The sign-in entries (a refused visit to a staff page is recorded too; not here)."""
    db.rollback()
    return [
        (e.action, e.detail)
        for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))
        if e.action != "sign_in_required"
    ]


def test_right_password_signs_in_and_opens_the_queue(app, db):
    make_staff(app, db)
    client = app.test_client()
    response = sign_in(client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/queue")
    page = client.get("/staff/queue")
    assert page.status_code == 200
    assert "Casey Intake" in page.get_data(as_text=True)
    assert ("sign_in", None) in audit_actions(db)


def test_password_is_stored_as_an_argon2id_hash(app, db):
    staff = make_staff(app, db)
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash


@pytest.mark.parametrize(
    ("email", "password"),
    [("casey@example.org", "not the password"), ("nobody@example.org", PASSWORD)],
    ids=["wrong password", "unknown email"],
)
def test_wrong_email_or_password_gets_the_same_message(app, db, email, password):
    make_staff(app, db)
    client = app.test_client()
    response = sign_in(client, email, password)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert WRONG in html
    assert "Error: Staff sign-in" in html
    assert client.get("/staff/queue").status_code == 302
    assert audit_actions(db)[-1][0] == "sign_in_failed"


def test_the_sign_in_page_never_echoes_the_password(app, db):
    make_staff(app, db)
    html = sign_in(app.test_client(), password="my secret guess").get_data(as_text=True)
    assert "my secret guess" not in html


def test_empty_fields_are_named(app):
    client = app.test_client()
    page = client.get("/staff/login")
    response = client.post("/staff/login", data={"csrf_token": csrf_from(page.get_data(True))})
    html = response.get_data(as_text=True)
    assert "Enter your email address" in html
    assert "Enter your password" in html


def test_deactivated_account_cannot_sign_in(app, db):
    make_staff(app, db)
    db.rollback()
    staff_accounts.deactivate_staff(db, email="casey@example.org")
    db.commit()
    response = sign_in(app.test_client())
    assert WRONG in response.get_data(as_text=True)
    assert audit_actions(db)[-1] == ("sign_in_failed", "account deactivated")


def test_deactivation_ends_an_open_session(app, db):
    client, _staff = signed_in_client(app, db)
    staff_accounts.deactivate_staff(db, email="casey@example.org")
    db.commit()
    assert client.get("/staff/queue").status_code == 302


def test_repeated_failures_never_lock_the_account_for_its_owner(app, db):
    # Issue 13: a lock-out was a way to shut staff out. Failures slow down the address
    # that sends them (tests/auth/test_sign_in_throttle.py); the account stays open.
    make_staff(app, db)
    attacker = client_from(app, "198.51.100.20")
    for _ in range(app.config["STAFF_LOCKOUT_ATTEMPTS"] + 1):
        sign_in(attacker, password="wrong password!")
    owner = client_from(app, "192.0.2.10")
    assert sign_in(owner).status_code == 303
    assert owner.get("/staff/queue").status_code == 200


def test_fewer_failures_than_the_limit_do_not_lock(app, db):
    make_staff(app, db)
    client = app.test_client()
    for _ in range(app.config["STAFF_LOCKOUT_ATTEMPTS"] - 1):
        sign_in(client, password="wrong password!")
    assert sign_in(client).status_code == 303


def test_idle_session_is_signed_out(app, db):
    client, _ = signed_in_client(app, db)
    assert client.get("/staff/queue").status_code == 200
    with client.session_transaction() as session:
        session["staff_seen"] = int(time.time()) - 60 * app.config["STAFF_IDLE_MINUTES"] - 5
    response = client.get("/staff/queue")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]
    assert "without activity" in client.get(response.headers["Location"]).get_data(True)
    assert client.get("/staff/queue").status_code == 302


def test_activity_keeps_the_session_alive(app, db):
    client, _ = signed_in_client(app, db)
    with client.session_transaction() as session:
        session["staff_seen"] = int(time.time()) - 60 * app.config["STAFF_IDLE_MINUTES"] + 30
    assert client.get("/staff/queue").status_code == 200
    assert client.get("/staff/queue").status_code == 200


def test_sign_out_ends_the_session_even_for_a_copied_cookie(app, db):
    client, _ = signed_in_client(app, db)
    html = client.get("/staff/queue").get_data(as_text=True)
    with client.session_transaction() as session:
        stolen = dict(session)
    response = client.post("/staff/logout", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    assert client.get("/staff/queue").status_code == 302

    replay = app.test_client()
    with replay.session_transaction() as session:
        session.update(stolen)
    assert replay.get("/staff/queue").status_code == 302
    assert ("sign_out", None) in audit_actions(db)


def test_sign_out_needs_the_csrf_token(app, db):
    client, _ = signed_in_client(app, db)
    assert client.post("/staff/logout").status_code == 400
    assert client.get("/staff/queue").status_code == 200


def test_session_cookie_is_http_only_and_same_site_lax(app, db):
    make_staff(app, db)
    response = sign_in(app.test_client())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_next_only_leads_inside_the_staff_area(app, db):
    make_staff(app, db)
    client = app.test_client()
    page = client.get("/staff/login?next=//evil.example/staff/")
    response = pass_second_factor(
        client,
        client.post(
            "/staff/login?next=//evil.example/staff/",
            data={
                "email": "casey@example.org",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.get_data(True)),
            },
        ),
    )
    assert response.headers["Location"].endswith("/staff/queue")


def test_sign_in_returns_to_the_page_asked_for(app, db):
    make_staff(app, db)
    client = app.test_client()
    first = client.get("/staff/queue?status=closed")
    login_url = first.headers["Location"]
    page = client.get(login_url)
    response = pass_second_factor(
        client,
        client.post(
            login_url,
            data={
                "email": "casey@example.org",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.get_data(True)),
            },
        ),
    )
    assert response.headers["Location"].endswith("/staff/queue?status=closed")


def test_passwords_shorter_than_twelve_characters_are_refused(app, db):
    with pytest.raises(staff_accounts.AccountError, match="at least 12"):
        make_staff(app, db, password="short pass")


def test_staff_pages_are_not_cached(app, db):
    client, _ = signed_in_client(app, db)
    assert client.get("/staff/queue").headers["Cache-Control"] == "no-store"
    assert client.get("/staff/login").headers["Cache-Control"] == "no-store"


def test_admin_role_is_stored(app, db):
    staff = make_staff(app, db, role=StaffRole.ADMIN)
    assert staff.role == StaffRole.ADMIN


def test_an_idle_session_gets_the_sign_in_form_not_the_queue(app, db):
    client, _ = signed_in_client(app, db)
    assert client.get("/staff/login").status_code == 302  # signed in: on to the queue
    with client.session_transaction() as session:
        session["staff_seen"] = int(time.time()) - 60 * app.config["STAFF_IDLE_MINUTES"] - 5
    assert client.get("/staff/login").status_code == 200
