"""The second factor: setting up an authenticator app at the first sign-in, codes
accepted once only, single-use recovery codes, and the switch."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from app.models import AuditEvent, StaffRecoveryCode, StaffSecondFactor
from tests.support.staff import (
    PAGE_ENTRIES,
    PASSWORD,
    csrf_from,
    last_account_event,
    make_staff,
    sign_in,
    totp_code,
)


def post_password(client, email="casey@example.org", password=PASSWORD):
    page = client.get("/staff/login")
    return client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": csrf_from(page.get_data(True))},
    )


def post_code(client, code: str, url="/staff/sign-in/code"):
    page = client.get(url)
    return client.post(url, data={"code": code, "csrf_token": csrf_from(page.get_data(True))})


def secret_of(db, staff_id: int) -> str:
    db.rollback()
    return db.get(StaffSecondFactor, staff_id).totp_secret


def enrol_through_the_pages(client, db, staff_id: int) -> list[str]:
    """What a person does at the first sign-in: scan, type the code, keep the codes."""
    page = client.get("/staff/sign-in/set-up").get_data(as_text=True)
    shown = BeautifulSoup(page, "html.parser").select_one("#totp-secret").get_text()
    secret = shown.replace(" ", "")
    assert secret == secret_of(db, staff_id)
    response = client.post(
        "/staff/sign-in/set-up",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 200
    html = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    return [li.get_text() for li in html.select("ul.recovery-codes li")]


def test_the_first_sign_in_sets_up_the_app_with_a_qr_code_drawn_here(app, db):
    staff = make_staff(app, db, enrol=False)
    client = app.test_client()
    response = post_password(client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/sign-in/set-up")
    # The password alone opens nothing (and going elsewhere abandons the sign-in).
    assert client.get("/staff/queue").status_code == 302
    post_password(client)

    page = client.get("/staff/sign-in/set-up").get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    svg = soup.select_one(".qr-code svg")
    assert svg is not None, "the QR code is inline SVG, drawn by the server"
    assert not soup.select("img[src^='http']"), "no outside QR service"
    secret = secret_of(db, staff.id)
    assert soup.select_one("#totp-secret").get_text().replace(" ", "") == secret

    codes = enrol_through_the_pages(client, db, staff.id)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", c) for c in codes)
    assert client.get("/staff/queue").status_code == 200
    # Only hashes of the recovery codes are kept.
    db.rollback()
    stored = {r.code_hash for r in db.scalars(select(StaffRecoveryCode))}
    assert len(stored) == 10
    assert not any(c.replace("-", "") in h for c in codes for h in stored)
    db.rollback()
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id))
    actions = [e.action for e in events if e.action not in PAGE_ENTRIES]
    assert actions[-2:] == ["second_factor_enrolled", "sign_in"]


def test_a_wrong_code_while_setting_up_is_refused(app, db):
    make_staff(app, db, enrol=False)
    client = app.test_client()
    post_password(client)
    response = post_code(client, "000000", url="/staff/sign-in/set-up")
    assert response.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows now" in response.get_data(True)
    assert client.get("/staff/queue").status_code == 302


def test_the_right_password_then_the_right_code_signs_in(app, db):
    make_staff(app, db)
    client = app.test_client()
    response = post_password(client)
    assert response.headers["Location"].endswith("/staff/sign-in/code")
    assert client.get("/staff/queue").status_code == 302
    post_password(client)
    response = post_code(client, totp_code(app, "casey@example.org"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/queue")
    assert client.get("/staff/queue").status_code == 200


def test_a_wrong_code_is_refused_and_recorded(app, db):
    make_staff(app, db)
    client = app.test_client()
    post_password(client)
    response = post_code(
        client, "123456" if totp_code(app, "casey@example.org") != "123456" else "654321"
    )
    assert response.status_code == 400
    assert "The code is not right" in response.get_data(as_text=True)
    assert client.get("/staff/queue").status_code == 302
    db.rollback()
    last = last_account_event(db)
    assert (last.action, last.detail) == ("second_factor_failed", "wrong code")


def test_a_replayed_code_is_refused(app, db):
    staff = make_staff(app, db)
    code = totp_code(app, staff.email)
    first = app.test_client()
    post_password(first)
    assert post_code(first, code).status_code == 303

    # Someone who saw the code typed (over a shoulder, a phishing page) and knows the
    # password tries it within the same 30 seconds.
    second = app.test_client()
    post_password(second)
    response = post_code(second, code)
    assert response.status_code == 400
    assert second.get("/staff/queue").status_code == 302
    db.rollback()
    last = last_account_event(db)
    assert (last.action, last.detail) == ("second_factor_failed", "code already used")


def test_an_older_code_is_refused_after_a_newer_one(app, db):
    staff = make_staff(app, db)
    totp = pyotp.TOTP(secret_of(db, staff.id))
    now = datetime.now(UTC)
    previous = totp.at(now.timestamp() - 30)
    client = app.test_client()
    post_password(client)
    assert post_code(client, totp_code(app, staff.email)).status_code == 303
    other = app.test_client()
    post_password(other)
    if previous != totp.now():  # (the same six digits twice in a row: nothing to test)
        assert post_code(other, previous).status_code == 400


def test_recovery_codes_work_once_each(app, db):
    staff = make_staff(app, db, enrol=False)
    client = app.test_client()
    post_password(client)
    codes = enrol_through_the_pages(client, db, staff.id)

    lost_phone = app.test_client()
    post_password(lost_phone)
    response = post_code(lost_phone, codes[0].lower())  # typed in any case
    assert response.status_code == 303
    queue = lost_phone.get("/staff/queue")
    assert queue.status_code == 200
    assert "You used a recovery code: 9 left" in queue.get_data(as_text=True)

    again = app.test_client()
    post_password(again)
    assert post_code(again, codes[0]).status_code == 400
    assert again.get("/staff/queue").status_code == 302
    post_password(again)
    assert post_code(again, codes[1]).status_code == 303

    db.rollback()
    used = db.scalars(select(StaffRecoveryCode).where(StaffRecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 2
    details = [
        e.detail
        for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "recovery_code_used"))
    ]
    assert details == ["9 recovery codes left", "8 recovery codes left"]


def test_the_code_step_does_not_outlive_a_few_minutes(app, db):
    make_staff(app, db)
    client = app.test_client()
    post_password(client)
    token = csrf_from(client.get("/staff/sign-in/code").get_data(as_text=True))
    with client.session_transaction() as session:
        session["pending_at"] -= 11 * 60
    response = client.post(
        "/staff/sign-in/code",
        data={"code": totp_code(app, "casey@example.org"), "csrf_token": token},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/login")
    assert client.get("/staff/queue").status_code == 302


def test_the_code_page_needs_a_right_password_first(app, db):
    make_staff(app, db)
    client = app.test_client()
    response = client.get("/staff/sign-in/code")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/login")
    assert client.get("/staff/sign-in/set-up").headers["Location"].endswith("/staff/login")


@pytest.mark.parametrize("app_overrides", [{"STAFF_SECOND_FACTOR": False}])
def test_with_the_switch_off_the_password_alone_signs_in(app, db):
    make_staff(app, db, enrol=False)
    client = app.test_client()
    response = post_password(client)
    assert response.headers["Location"].endswith("/staff/queue")
    assert client.get("/staff/queue").status_code == 200


def test_the_switch_is_on_by_default_in_every_environment():
    from config import Config, DevelopmentConfig, ProductionConfig, TestingConfig

    for config in (Config, DevelopmentConfig, ProductionConfig, TestingConfig):
        assert config.STAFF_SECOND_FACTOR is True


def test_sign_in_helper_passes_the_factor(app, db):
    make_staff(app, db)
    client = app.test_client()
    assert sign_in(client).status_code == 303
    assert client.get("/staff/queue").status_code == 200
