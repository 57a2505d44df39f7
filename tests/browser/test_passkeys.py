"""Passkeys in a real Chromium with its virtual authenticator (DevTools' WebAuthn
domain): add one, sign in with it instead of a code, and see a wrong one refused.

WebAuthn works only on a secure context with a domain name, so these pages are opened at
http://localhost:PORT (the same server the other browser tests use at 127.0.0.1)."""

from __future__ import annotations

import pytest

from tests.browser.staff_support import (
    StaffAccount,
    create_staff,
    first_sign_in,
    pass_second_factor,
)
from tests.browser.support import assert_accessible

pytestmark = pytest.mark.browser

HOLDER = StaffAccount(email="kit.passkey@example.org", name="Kit Passkey")


@pytest.fixture(scope="module")
def passkey_server(live_server):
    create_staff(live_server, HOLDER)
    return live_server


def localhost(server) -> str:
    return server.url.replace("127.0.0.1", "localhost")


def add_virtual_authenticator(page) -> tuple[object, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    made = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, made["authenticatorId"]


def password_step(page, base: str) -> None:
    page.goto(f"{base}/staff/login")
    page.get_by_label("Email address").fill(HOLDER.email)
    page.get_by_label("Password").fill(HOLDER.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_add_a_passkey_then_sign_in_with_it(new_page, passkey_server):
    base = localhost(passkey_server)
    page = new_page()
    cdp, authenticator = add_virtual_authenticator(page)

    # The first time: the set-up link, the password, the authenticator app.
    first_sign_in(page, HOLDER.email, HOLDER.password, base=base)
    page.goto(f"{base}/staff/account/passkeys")
    assert_accessible(page, "passkeys, none yet")
    page.get_by_label("Name for this passkey").fill("Virtual key")
    with page.expect_navigation():
        page.get_by_role("button", name="Add a passkey").click()
    assert "Passkey “Virtual key” added." in page.locator("main").inner_text()
    assert "Virtual key" in page.locator(".passkey-list").inner_text()
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(credentials["credentials"]) == 1
    assert_accessible(page, "passkeys, one added")

    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    password_step(page, base)
    assert page.url.endswith("/staff/sign-in/code")
    assert_accessible(page, "code page with a passkey")
    with page.expect_navigation():
        page.get_by_role("button", name="Use a passkey").click()
    assert page.url.endswith("/staff/queue")
    assert HOLDER.name in page.locator("header").inner_text()
    counted = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert counted["credentials"][0]["signCount"] >= 1

    # A different device (a new authenticator with no passkey for this site) is refused,
    # and a code still works.
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator})
    add_virtual_authenticator(page)
    password_step(page, base)
    page.get_by_role("button", name="Use a passkey").click()
    status = page.locator("#passkey-status")
    status.wait_for(state="visible", timeout=15000)
    assert page.url.endswith("/staff/sign-in/code")
    pass_second_factor(page, HOLDER.email)
    assert page.url.endswith("/staff/queue")
