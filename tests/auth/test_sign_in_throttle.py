"""Wrong passwords slow down the address that sends them, never the account's owner.

The counters are in Redis here, as in production (each test uses a key prefix of its
own on the shared server), so two app instances (two workers or hosts) count together.
"""

from __future__ import annotations

import io
import logging
import secrets

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from app.models import AuditEvent, StaffRole
from tests.conftest import make_test_app
from tests.support.servers import free_port
from tests.support.staff import client_from, make_staff, sign_in

ATTACKER = "198.51.100.66"
OWNER = "192.0.2.10"
THROTTLED = "Too many failed attempts from your network"


def redis_settings() -> dict:
    return {
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": f"test-throttle-{secrets.token_hex(6)}",
    }


@pytest.fixture
def app_overrides(request):
    # A fresh key prefix for every test (and every backend's run of it).
    return {**redis_settings(), **getattr(request, "param", {})}


def audit_rows(db, action: str) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_storm_of_wrong_passwords_never_shuts_the_owner_out(app, db):
    staff = make_staff(app, db)
    attacker = client_from(app, ATTACKER)
    statuses = [sign_in(attacker, password=f"guess number {i:03d}").status_code for i in range(200)]
    # The first few are ordinary failures; then the address is refused (by the sign-in
    # throttle, then by the rate limit on the sign-in form), whatever it sends.
    limit = app.config["STAFF_LOCKOUT_ATTEMPTS"]
    assert statuses[:limit] == [200] * limit
    assert set(statuses[limit:]) <= {429}
    # Even the right password is refused from that address now.
    assert sign_in(attacker).status_code == 429

    owner = client_from(app, OWNER)
    response = sign_in(owner)
    assert response.status_code == 303
    assert owner.get("/staff/queue").status_code == 200

    throttled = audit_rows(db, "sign_in_throttled")
    assert throttled and all(e.staff_id == staff.id for e in throttled)
    assert {e.client_ip for e in throttled} == {ATTACKER}


@pytest.mark.parametrize("app_overrides", [{"SIGNIN_RATE_LIMIT": "1000 per minute"}], indirect=True)
def test_failures_from_one_address_for_many_accounts_stop_that_address(app, db):
    # (The sign-in form's own rate limit is raised here: only the throttle is tested.)
    make_staff(app, db)
    attacker = client_from(app, ATTACKER)
    per_address = app.config["STAFF_ADDRESS_FAILURES"]
    for i in range(per_address):
        assert sign_in(attacker, f"someone{i}@example.org", "any guess at all").status_code == 200
    response = sign_in(attacker, "another@example.org", "any guess at all")
    assert response.status_code == 429
    assert THROTTLED in response.get_data(as_text=True)
    assert sign_in(client_from(app, OWNER)).status_code == 303


def test_two_workers_count_together(app, db, database_url):
    # A second app on the same database and Redis, as a second worker or host would be.
    other = make_test_app(
        database_url,
        RATELIMIT_STORAGE_URI=app.config["RATELIMIT_STORAGE_URI"],
        RATELIMIT_KEY_PREFIX=app.config["RATELIMIT_KEY_PREFIX"],
    )
    make_staff(app, db)
    limit = app.config["STAFF_LOCKOUT_ATTEMPTS"]
    for i in range(limit):
        worker = app if i % 2 else other
        assert sign_in(client_from(worker, ATTACKER), password="wrong password!").status_code == 200
    assert sign_in(client_from(app, ATTACKER)).status_code == 429
    assert sign_in(client_from(other, ATTACKER)).status_code == 429
    assert sign_in(client_from(other, OWNER)).status_code == 303


def test_a_storm_from_many_addresses_is_recorded_and_shown_to_admins(app, db):
    staff = make_staff(app, db)
    storm = app.config["STAFF_STORM_FAILURES"]
    for i in range(storm + 5):
        sign_in(client_from(app, f"203.0.113.{i + 1}"), password="wrong password!")
    storms = audit_rows(db, "sign_in_storm")
    assert len(storms) == 1, "one alert per account per window"
    assert storms[0].staff_id == staff.id

    # The owner still signs in.
    assert sign_in(client_from(app, OWNER)).status_code == 303

    db.rollback()
    make_staff(app, db, email="ada@example.org", name="Ada Admin", role=StaffRole.ADMIN)
    admin = client_from(app, "192.0.2.99")
    sign_in(admin, "ada@example.org")
    page = BeautifulSoup(admin.get("/staff/accounts").get_data(as_text=True), "html.parser")
    rows = [r.get_text(" ", strip=True) for r in page.select("#storms ~ div table tbody tr")]
    assert any("Casey Intake" in r and "Many failed sign-ins" in r for r in rows), rows


def test_wrong_codes_count_like_wrong_passwords(app, db):
    make_staff(app, db)
    attacker = client_from(app, ATTACKER)
    from tests.auth.test_second_factor import post_code, post_password

    for _ in range(app.config["STAFF_LOCKOUT_ATTEMPTS"]):
        post_password(attacker)
        assert post_code(attacker, "000000").status_code == 400
    post_password(attacker)
    response = post_code(attacker, "000000")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/login")
    assert sign_in(client_from(app, OWNER)).status_code == 303


@pytest.mark.parametrize(
    "app_overrides",
    [{"RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0"}],
    indirect=True,
)
def test_with_redis_down_the_throttle_counts_in_memory(app, db):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        make_staff(app, db)
        attacker = client_from(app, ATTACKER)
        limit = app.config["STAFF_LOCKOUT_ATTEMPTS"]
        assert [
            sign_in(attacker, password="wrong!!password").status_code for _ in range(limit)
        ] == [200] * limit
        assert sign_in(attacker).status_code == 429
        assert sign_in(client_from(app, OWNER)).status_code == 303
    finally:
        logging.getLogger().removeHandler(handler)
    assert "Sign-in throttle storage unreachable" in stream.getvalue()


# Issue 26: addresses grouped as one subscriber holds them, and only failures counted.

SUBNET = "2001:db8:5:7"


def test_one_ipv6_subscriber_is_one_address_for_the_limits(app, db):
    """One IPv6 subscriber holds a whole /64: 40 guesses from 40 of its addresses used to
    be 40 first tries. Now they count as one address, and another /64 is not touched."""
    make_staff(app, db)
    statuses = [
        sign_in(client_from(app, f"{SUBNET}::{n + 1:x}"), password="wrong guess again").status_code
        for n in range(40)
    ]
    limit = app.config["STAFF_LOCKOUT_ATTEMPTS"]
    assert statuses[:limit] == [200] * limit
    assert set(statuses[limit:]) == {429}
    assert sign_in(client_from(app, f"{SUBNET}:ffff:ffff:ffff:ffff")).status_code == 429
    assert sign_in(client_from(app, "2001:db8:5:8::1")).status_code == 303


@pytest.mark.parametrize(
    "app_overrides",
    [{"SIGNIN_RATE_LIMIT": "3 per 15 minutes", "STAFF_ADDRESS_FAILURES": 1000,
      "STAFF_LOCKOUT_ATTEMPTS": 1000}],
    indirect=True,
)  # fmt: skip
def test_the_sign_in_rate_limit_counts_a_64_as_one_address(app, db):
    make_staff(app, db)
    for n in range(3):
        assert (
            sign_in(client_from(app, f"{SUBNET}::{n + 1}"), password="nope nope nope").status_code
            == 200
        )
    assert sign_in(client_from(app, f"{SUBNET}::99"), password="nope nope nope").status_code == 429


@pytest.mark.parametrize(
    "app_overrides", [{"SIGNIN_RATE_LIMIT": "3 per 15 minutes"}], indirect=True
)
def test_right_sign_ins_never_use_up_the_addresss_limit(app, db):
    """Ten coordinators behind one hospital address at 8:00: every one gets in, and the
    eleventh too. Only failures count against the address."""
    office = "192.0.2.200"
    for n in range(11):
        make_staff(app, db, email=f"coordinator{n}@example.org", name=f"Coordinator {n}")
        db.rollback()
    for n in range(11):
        response = sign_in(client_from(app, office), f"coordinator{n}@example.org")
        assert response.status_code == 303, f"coordinator {n}"
    # Failures still count: the fourth is refused.
    for n in range(3):
        assert (
            sign_in(
                client_from(app, office), f"coordinator{n}@example.org", "wrong!!wrong"
            ).status_code
            == 200
        )
    assert (
        sign_in(client_from(app, office), "coordinator5@example.org", "wrong!!wrong").status_code
        == 429
    )


@pytest.mark.parametrize(
    "app_overrides",
    [{"SIGNIN_RATE_LIMIT": "3 per 15 minutes", "STAFF_ADDRESS_FAILURES": 3,
      "CENTER_NETWORKS": "192.0.2.0/24, 2001:db8:c::/48", "CENTER_ADDRESS_FAILURES": 12}],
    indirect=True,
)  # fmt: skip
def test_the_centers_own_networks_may_fail_more_often(app, db):
    make_staff(app, db)
    # From the center's egress: twelve failures (for different accounts, as an office's
    # typos are) before the address waits, instead of three.
    for n in range(12):
        assert (
            sign_in(
                client_from(app, "192.0.2.17"), f"person{n}@example.org", "typo typo typo"
            ).status_code
            == 200
        )
    assert (
        sign_in(client_from(app, "192.0.2.17"), "another@example.org", "typo typo").status_code
        == 429
    )
    for n in range(4):
        assert (
            sign_in(
                client_from(app, f"2001:db8:c:1::{n + 1}"), f"p{n}@example.org", "typo typo"
            ).status_code
            == 200
        )
    # From anywhere else, three.
    for n in range(3):
        assert (
            sign_in(client_from(app, ATTACKER), f"person{n}@example.org", "guess guess").status_code
            == 200
        )
    assert (
        sign_in(client_from(app, ATTACKER), "person9@example.org", "guess guess").status_code == 429
    )


def test_a_storm_against_an_unknown_address_keeps_no_typed_email(app, db):
    storm = app.config["STAFF_STORM_FAILURES"]
    typed = "Someone.Typed@Example.org"
    for i in range(storm + 1):
        sign_in(client_from(app, f"203.0.113.{i + 1}"), typed, "wrong password!")
    (row,) = audit_rows(db, "sign_in_storm")
    assert row.staff_id is None and row.actor_email is None
    assert "typed text hash" in row.detail
    db.rollback()
    for event in db.scalars(select(AuditEvent)):
        columns = (event.actor_email, event.detail, event.to_value, event.from_value)
        assert not any(typed.lower() in (value or "").lower() for value in columns)


def test_a_bad_center_network_stops_the_app_with_the_settings_name(database_url):
    from config import ConfigError

    with pytest.raises(ConfigError, match="CENTER_NETWORKS: 'the office' is not an address"):
        make_test_app(database_url, CENTER_NETWORKS="10.0.0.0/8, the office")
