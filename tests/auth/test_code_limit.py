"""Wrong codes are limited per account, whatever the address (issue 26).

The attack: someone who has the password signs in from address after address and guesses
codes; each address stayed under its own limit, and the right code still worked after
120 guesses. Now the account's code step waits after STAFF_CODE_ATTEMPTS wrong codes
(app or recovery), its sign-ins in progress end, the attempts are on the record and on
the admins' accounts page, and the owner gets in afterwards, with a recovery code too.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select, update

from app.models import AuditEvent, StaffRole, StaffSignIn, StaffUser
from tests.auth.test_second_factor import (
    create_with_the_command,
    post_code,
    post_password,
)
from tests.support.staff import (
    client_from,
    csrf_from,
    finish_set_up,
    make_staff,
    sign_in,
    totp_code,
    use_link,
)

ATTEMPTS = 5


@pytest.fixture
def app_overrides():
    return {
        "STAFF_CODE_ATTEMPTS": ATTEMPTS,
        # Counters of their own on the shared Redis, as production keeps them.
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": f"test-code-limit-{secrets.token_hex(6)}",
    }


def wrong(app, email="casey@example.org") -> str:
    right = totp_code(app, email)
    return "000000" if right != "000000" else "111111"


def entries(db, action: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_wrong_codes_from_many_addresses_make_the_accounts_code_step_wait(app, db):
    staff = make_staff(app, db)
    # One guess from each address: no address is ever over its own limit.
    for n in range(ATTEMPTS - 1):
        guesser = client_from(app, f"203.0.113.{n + 1}")
        post_password(guesser)
        response = post_code(guesser, wrong(app))
        assert response.status_code == 400
        assert "The code is not right" in response.get_data(as_text=True)
    last = client_from(app, "198.51.100.7")
    post_password(last)
    ended = post_code(last, wrong(app))
    assert ended.status_code == 303
    assert ended.headers["Location"].endswith("/staff/login")
    assert "Too many wrong codes" in last.get(ended.headers["Location"]).get_data(as_text=True)

    # The right code now fails too, from a sign-in already in progress ...
    db.rollback()
    assert all(row.ended_at is not None for row in db.scalars(select(StaffSignIn)))
    # ... and from a fresh one: the right password gets no code step while it waits.
    owner = client_from(app, "192.0.2.10")
    refused = post_password(owner)
    assert refused.status_code == 200
    assert "Too many wrong codes were typed for this account" in refused.get_data(as_text=True)
    assert owner.get("/staff/sign-in/code").headers["Location"].endswith("/staff/login")
    assert owner.get("/staff/queue").status_code == 302

    wait = entries(db, "second_factor_wait")
    assert [(e.staff_id, e.client_ip) for e in wait] == [(staff.id, "198.51.100.7")]
    assert len(entries(db, "second_factor_failed")) == ATTEMPTS
    db.rollback()
    waits_until = db.get(StaffUser, staff.id).codes_wait_until
    assert waits_until is not None


def test_the_wait_is_shown_to_admins(app, db):
    staff = make_staff(app, db)
    for n in range(ATTEMPTS):
        guesser = client_from(app, f"203.0.113.{n + 1}")
        post_password(guesser)
        post_code(guesser, wrong(app))
    make_staff(app, db, email="ada@example.org", name="Ada Admin", role=StaffRole.ADMIN)
    admin = app.test_client()
    sign_in(admin, "ada@example.org")
    accounts = BeautifulSoup(admin.get("/staff/accounts").get_data(as_text=True), "html.parser")
    rows = [r.get_text(" ", strip=True) for r in accounts.select("#storms ~ div table tbody tr")]
    assert any("Casey Intake" in r and "Too many wrong codes" in r for r in rows), rows
    account = admin.get(f"/staff/accounts/{staff.id}").get_data(as_text=True)
    assert "Waiting until" in account and "after too many wrong codes" in account


def test_after_the_wait_the_owner_gets_in_with_a_recovery_code(app, db):
    link = create_with_the_command(app)
    setting_up = app.test_client()
    use_link(setting_up, link)
    _secret, recovery = finish_set_up(setting_up)
    for n in range(ATTEMPTS):
        guesser = client_from(app, f"203.0.113.{n + 1}")
        post_password(guesser)
        post_code(guesser, wrong(app))
    owner = client_from(app, "192.0.2.10")
    assert post_password(owner).status_code == 200, "waiting"

    # The wait is over (the clock moved on).
    db.rollback()
    db.execute(update(StaffUser).values(codes_wait_until=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()
    assert post_password(owner).headers["Location"].endswith("/staff/sign-in/code")
    assert post_code(owner, recovery[0]).status_code == 303
    assert owner.get("/staff/queue").status_code == 200
    db.rollback()
    assert db.scalars(select(StaffUser)).one().wrong_codes == 0


def test_wrong_recovery_codes_count_too(app, db):
    make_staff(app, db)
    for n in range(ATTEMPTS):
        guesser = client_from(app, f"203.0.113.{n + 1}")
        post_password(guesser)
        post_code(guesser, "AAAA-BBBB-CCCC")
    assert len(entries(db, "second_factor_wait")) == 1


def test_a_finished_sign_in_sets_the_count_back(app, db):
    make_staff(app, db)
    for _ in range(ATTEMPTS - 1):
        client = app.test_client()
        post_password(client)
        post_code(client, wrong(app))
    assert sign_in(app.test_client()).status_code == 303
    db.rollback()
    assert db.scalars(select(StaffUser)).one().wrong_codes == 0
    client = app.test_client()
    post_password(client)
    assert post_code(client, wrong(app)).status_code == 400, "counting from 0 again"


def test_wrong_codes_sent_at_once_are_counted_one_by_one(app, db):
    """A burst of guesses sent together: the account's checks take turns, so exactly
    STAFF_CODE_ATTEMPTS codes are checked and the rest are refused unchecked."""
    make_staff(app, db)
    guessers = []
    for n in range(ATTEMPTS * 3):
        guesser = client_from(app, f"203.0.113.{n + 1}")
        post_password(guesser)
        token = csrf_from(guesser.get("/staff/sign-in/code").get_data(as_text=True))
        guessers.append((guesser, token))
    code = wrong(app)

    def guess(pair):
        client, token = pair
        return client.post("/staff/sign-in/code", data={"code": code, "csrf_token": token})

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = [r.status_code for r in pool.map(guess, guessers)]
    assert set(statuses) <= {400, 303}
    checked = [e for e in entries(db, "second_factor_failed") if e.detail == "wrong code"]
    assert len(checked) == ATTEMPTS
    assert len(entries(db, "second_factor_wait")) == 1


def test_wrong_codes_at_the_identity_check_count_and_end_the_session(app, db):
    client, staff = sign_in_and_keep(app, db)
    for n in range(ATTEMPTS - 1):
        # (A stolen session on the move: each try from another address.)
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        response = confirm(client, wrong(app))
        assert response.status_code == 400
    # A wrong password there is no code: it does not count for the account.
    client.environ_base["REMOTE_ADDR"] = "203.0.113.99"
    assert confirm(client, "not my password at all").status_code == 400
    client.environ_base["REMOTE_ADDR"] = "203.0.113.100"
    last = confirm(client, wrong(app))
    assert last.status_code == 303
    assert last.headers["Location"].endswith("/staff/login")
    assert client.get("/staff/queue").status_code == 302
    assert len(entries(db, "second_factor_wait")) == 1


def sign_in_and_keep(app, db):
    staff = make_staff(app, db)
    client = app.test_client()
    assert sign_in(client).status_code == 303
    db.rollback()
    return client, staff


def confirm(client, secret: str):
    page = client.get("/staff/confirm").get_data(as_text=True)
    return client.post("/staff/confirm", data={"secret": secret, "csrf_token": csrf_from(page)})
