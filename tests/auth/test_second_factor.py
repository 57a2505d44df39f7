"""The second factor: set up only through a one-time link, with a secret drawn for that
set-up; codes accepted once only; single-use recovery codes; the switch."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select, update

from app.models import AuditEvent, StaffRecoveryCode, StaffSecondFactor, StaffSignIn
from tests.support.staff import (
    PAGE_ENTRIES,
    PASSWORD,
    csrf_from,
    finish_set_up,
    last_account_event,
    link_in,
    make_staff,
    sign_in,
    totp_code,
    use_link,
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


def create_with_the_command(app, email="casey@example.org", name="Casey Intake") -> str:
    """`flask staff create`, as the README says: returns the set-up link it prints."""
    result = app.test_cli_runner().invoke(
        args=["staff", "create", email, "--name", name], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    return link_in(result.output)


def reset_with_the_command(app, email="casey@example.org") -> str:
    result = app.test_cli_runner().invoke(args=["staff", "reset-second-factor", email])
    assert result.exit_code == 0, result.output
    return link_in(result.output)


def audit_actions(db) -> list[str]:
    db.rollback()
    events = db.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [e.action for e in events if e.action not in PAGE_ENTRIES]


def test_a_password_alone_never_sets_up_a_second_factor(app, db):
    create_with_the_command(app)
    client = app.test_client()
    response = post_password(client)
    assert response.status_code == 200
    assert "no authenticator app yet" in response.get_data(as_text=True)
    assert "set-up link" in response.get_data(as_text=True)
    # Nothing to reach: no set-up page, no code page, no staff page.
    for url in ("/staff/sign-in/set-up", "/staff/sign-in/code"):
        assert client.get(url).headers["Location"].endswith("/staff/login")
    assert client.get("/staff/queue").status_code == 302
    db.rollback()
    assert db.scalars(select(StaffSecondFactor)).all() == []
    assert db.scalars(select(StaffSignIn)).all() == []
    last = last_account_event(db)
    assert (last.action, last.detail) == ("sign_in_failed", "no second factor set up")


def test_the_link_sets_up_the_app_with_a_secret_drawn_for_it_and_a_qr_code_drawn_here(app, db):
    link = create_with_the_command(app)
    client = app.test_client()
    response = use_link(client, link)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/sign-in/set-up")

    page = client.get("/staff/sign-in/set-up").get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.select_one(".qr-code svg") is not None, "inline SVG, drawn by the server"
    assert not soup.select("img[src^='http']"), "no outside QR service"
    shown = soup.select_one("#totp-secret").get_text().replace(" ", "")
    db.rollback()
    # The secret belongs to this set-up, not (yet) to the account.
    assert db.scalars(select(StaffSecondFactor)).all() == []
    assert [s.totp_secret for s in db.scalars(select(StaffSignIn))] == [shown]

    secret, codes = finish_set_up(client)
    db.rollback()
    assert secret == shown == db.scalars(select(StaffSecondFactor)).one().totp_secret
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", c) for c in codes)
    assert client.get("/staff/queue").status_code == 200
    # Only hashes of the recovery codes are kept.
    db.rollback()
    stored = {r.code_hash for r in db.scalars(select(StaffRecoveryCode))}
    assert len(stored) == 10
    assert not any(c.replace("-", "") in h for c in codes for h in stored)
    assert audit_actions(db)[-4:] == [
        "account_link_used",
        "second_factor_set_up_begun",
        "second_factor_enrolled",
        "sign_in",
    ]
    # The set-up ended with the sign-in: the browser cannot use it again.
    assert client.get("/staff/sign-in/set-up").headers["Location"].endswith("/staff/queue")


def test_someone_with_the_password_never_sees_the_secret_or_signs_in(app, db):
    """The attack of issue 26: a colleague who knows the password signs in before and
    after the owner sets up the app, and tries the owner's set-up page."""
    link = create_with_the_command(app)
    other = app.test_client()
    assert post_password(other).status_code == 200  # before: nothing to set up
    owner = app.test_client()
    use_link(owner, link)
    page = owner.get("/staff/sign-in/set-up").get_data(as_text=True)
    secret = BeautifulSoup(page, "html.parser").select_one("#totp-secret").get_text()
    # The set-up is this browser's alone.
    assert other.get("/staff/sign-in/set-up").headers["Location"].endswith("/staff/login")
    assert post_password(other).status_code == 200  # during: still nothing to set up
    assert secret.replace(" ", "") not in other.get("/staff/login").get_data(as_text=True)
    finish_set_up(owner)

    after = post_password(other)  # after: the code step, and no secret on it
    assert after.headers["Location"].endswith("/staff/sign-in/code")
    code_page = other.get("/staff/sign-in/code").get_data(as_text=True)
    assert secret.replace(" ", "") not in code_page.replace(" ", "")
    assert "totp-secret" not in code_page
    assert post_code(other, "000000").status_code == 400
    assert other.get("/staff/queue").status_code == 302


def test_a_second_set_up_makes_the_first_ones_secret_worthless(app, db):
    create_with_the_command(app)
    first_link = reset_with_the_command(app)
    first = app.test_client()
    use_link(first, first_link)
    first_page = first.get("/staff/sign-in/set-up").get_data(as_text=True)
    first_secret = BeautifulSoup(first_page, "html.parser").select_one("#totp-secret").get_text()

    second = app.test_client()
    use_link(second, reset_with_the_command(app))
    second_secret, _ = finish_set_up(second)
    assert second_secret != first_secret.replace(" ", "")

    late = first.post(
        "/staff/sign-in/set-up",
        data={
            "code": pyotp.TOTP(first_secret.replace(" ", "")).now(),
            "csrf_token": csrf_from(first_page),
        },
    )
    assert late.status_code == 303
    assert late.headers["Location"].endswith("/staff/login")
    db.rollback()
    assert db.scalars(select(StaffSecondFactor)).one().totp_secret == second_secret


def test_a_second_set_up_before_the_first_is_finished_ends_it(app, db):
    create_with_the_command(app)
    first, second = app.test_client(), app.test_client()
    use_link(first, reset_with_the_command(app))
    use_link(second, reset_with_the_command(app))
    assert first.get("/staff/sign-in/set-up").headers["Location"].endswith("/staff/login")
    finish_set_up(second)


def test_a_link_that_asks_for_the_password_refuses_a_wrong_one_and_stays_usable(app, db):
    link = create_with_the_command(app)
    client = app.test_client()
    wrong = use_link(client, link, password="not the password at all")
    assert wrong.status_code == 400
    assert "That is not the password of this account" in wrong.get_data(as_text=True)
    assert use_link(client, link).status_code == 303
    # And it works once.
    assert use_link(app.test_client(), link).status_code == 404


def test_a_wrong_code_while_setting_up_is_refused(app, db):
    link = create_with_the_command(app)
    client = app.test_client()
    use_link(client, link)
    response = post_code(client, "000000", url="/staff/sign-in/set-up")
    assert response.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows now" in response.get_data(True)
    assert client.get("/staff/queue").status_code == 302
    db.rollback()
    assert db.scalars(select(StaffSecondFactor)).all() == []


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
    link = create_with_the_command(app)
    setting_up = app.test_client()
    use_link(setting_up, link)
    _secret, codes = finish_set_up(setting_up)

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
    db.rollback()
    db.execute(update(StaffSignIn).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()
    response = client.post(
        "/staff/sign-in/code",
        data={"code": totp_code(app, "casey@example.org"), "csrf_token": token},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/login")
    assert client.get("/staff/queue").status_code == 302


def test_the_password_checked_state_is_on_the_server_used_once_and_bound_to_its_browser(app, db):
    make_staff(app, db)
    client = app.test_client()
    post_password(client)
    with client.session_transaction() as session:
        # The cookie holds a random key and where to go: no account id, nothing to edit.
        assert set(session) <= {"sign_in_key", "sign_in_next", "csrf_token", "_flashes"}
        key = session["sign_in_key"]
    db.rollback()
    (row,) = db.scalars(select(StaffSignIn))
    assert key not in row.key_hash, "only the key's hash is stored"

    # Another browser, without the key, has nothing; with a made-up key, nothing either.
    other = app.test_client()
    with other.session_transaction() as session:
        session["sign_in_key"] = "made-up"
    assert other.get("/staff/sign-in/code").headers["Location"].endswith("/staff/login")

    # A copy of the cookie, taken before the sign-in finished, is worth nothing after.
    copy = app.test_client()
    with copy.session_transaction() as session:
        session["sign_in_key"] = key
    assert post_code(client, totp_code(app, "casey@example.org")).status_code == 303
    assert copy.get("/staff/sign-in/code").headers["Location"].endswith("/staff/login")
    assert client.get("/staff/sign-in/code").headers["Location"].endswith("/staff/queue")
    db.rollback()
    assert db.get(StaffSignIn, row.id).ended_at is not None


def test_a_finished_sign_in_ends_every_other_one_of_the_account(app, db):
    make_staff(app, db)
    someone_else, owner = app.test_client(), app.test_client()
    post_password(someone_else)
    post_password(owner)
    assert post_code(owner, totp_code(app, "casey@example.org")).status_code == 303
    assert someone_else.get("/staff/sign-in/code").headers["Location"].endswith("/staff/login")


def test_the_code_page_needs_a_right_password_first(app, db):
    make_staff(app, db)
    client = app.test_client()
    response = client.get("/staff/sign-in/code")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/login")
    assert client.get("/staff/sign-in/set-up").headers["Location"].endswith("/staff/login")


def test_a_link_to_a_sign_in_step_from_anywhere_leaves_a_session_alone(app, db):
    """A cross-site link (or image) to /staff/sign-in/code used to sign a working
    member of staff out."""
    make_staff(app, db)
    client = app.test_client()
    sign_in(client)
    for url in ("/staff/sign-in/code", "/staff/sign-in/set-up"):
        response = client.get(url, headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/staff/queue")
    assert client.get("/staff/queue").status_code == 200


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
