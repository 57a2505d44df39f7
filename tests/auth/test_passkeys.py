"""Passkey endpoints without a browser: what they refuse. (A whole ceremony needs an
authenticator: tests/browser/test_passkeys.py drives Chromium's virtual one.)"""

from __future__ import annotations

import json

from sqlalchemy import select

from app.models import AuditEvent, StaffPasskey
from tests.auth.test_second_factor import post_password
from tests.support.staff import csrf_from, make_staff, signed_in_client


def post_json(client, url, body, page):
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def test_registration_options_are_webauthn_options_for_the_account(app, db):
    client, staff = signed_in_client(app, db)
    response = post_json(client, "/staff/account/passkeys/options", {}, "/staff/account/passkeys")
    assert response.status_code == 200
    options = response.get_json()
    assert options["rp"]["id"] == "localhost"
    assert options["user"]["name"] == staff.email
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert len(options["challenge"]) >= 40


def test_a_forged_registration_is_refused(app, db):
    client, _ = signed_in_client(app, db)
    post_json(client, "/staff/account/passkeys/options", {}, "/staff/account/passkeys")
    fake = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}
    response = post_json(
        client, "/staff/account/passkeys", {"credential": fake}, "/staff/account/passkeys"
    )
    assert response.status_code == 400
    assert "could not be added" in response.get_json()["error"]
    db.rollback()
    assert db.scalars(select(StaffPasskey)).all() == []


def test_registration_without_options_first_is_refused(app, db):
    client, _ = signed_in_client(app, db)
    response = post_json(
        client, "/staff/account/passkeys", {"credential": {"id": "x"}}, "/staff/account/passkeys"
    )
    assert response.status_code == 400


def test_passkey_sign_in_needs_the_password_first_and_a_passkey(app, db):
    make_staff(app, db)
    client = app.test_client()
    response = client.post("/staff/sign-in/passkey/options", json={})
    assert response.status_code == 400  # the CSRF token is missing, and no password yet
    post_password(client)
    token = csrf_from(client.get("/staff/sign-in/code").get_data(as_text=True))
    response = client.post(
        "/staff/sign-in/passkey/options", json={}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "This account has no passkey"


def test_a_forged_passkey_sign_in_is_refused_and_counted(app, db):
    staff = make_staff(app, db)
    db.add(
        StaffPasskey(
            staff_id=staff.id, credential_id="AAAA", public_key=b"\x00", sign_count=0, name="x"
        )
    )
    db.commit()
    client = app.test_client()
    post_password(client)
    token = csrf_from(client.get("/staff/sign-in/code").get_data(as_text=True))
    headers = {"X-CSRFToken": token}
    assert (
        client.post("/staff/sign-in/passkey/options", json={}, headers=headers).status_code == 200
    )
    fake = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}
    response = client.post("/staff/sign-in/passkey", json={"credential": fake}, headers=headers)
    assert response.status_code == 400
    db.rollback()
    assert [e.action for e in db.scalars(select(AuditEvent))][-1] == "passkey_failed"
    # The challenge is used once: the same answer again finds none.
    again = client.post("/staff/sign-in/passkey", json={"credential": fake}, headers=headers)
    assert again.status_code == 400
    assert "time ran out" in json.loads(again.get_data(as_text=True))["error"]
    assert client.get("/staff/queue").status_code == 302
