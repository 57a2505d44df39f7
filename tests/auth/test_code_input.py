"""Codes as people type them, on every page that takes one: the code step, setting up an
app, the identity check and the password change.

A phone set to Arabic types ٠١٢٣٤٥٦٧٨٩, a Japanese keyboard full-width １２３, a Hindi one
०१२: the same numbers, so they are read as the same code (Unicode's decimal digits, and
NFKC for full-width letters of recovery codes). Anything else is a wrong code, never a
500 (it used to be one: hmac.compare_digest refuses non-ASCII text).
"""

from __future__ import annotations

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.accounts import second_factor
from tests.auth.test_second_factor import create_with_the_command, post_code, post_password
from tests.support.staff import (
    PASSWORD,
    csrf_from,
    make_staff,
    sign_in,
    signed_in_client,
    totp_code,
    use_link,
)

# Arabic-Indic, Eastern Arabic (Persian), Devanagari, full-width, mathematical bold.
SCRIPTS = {
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "persian": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "full-width": "０１２３４５６７８９",
    "mathematical": "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",
}
# What must be a plain wrong code: other numerals, lookalikes, controls, emoji, a lone
# surrogate's neighbour, a code too long.
NOT_CODES = [
    "١٢٣٤٥",
    "Ⅰ２３４５６",
    "12345６7",
    "12 34 56 78",
    "١٢٣٤٥٦٧",
    "🔢🔢🔢",
    "ABCD-ÉFGH-JKMN",
]


def in_script(code: str, script: str) -> str:
    return "".join(SCRIPTS[script][int(digit)] for digit in code)


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_code_step_reads_any_scripts_digits(app, db, script):
    make_staff(app, db)
    client = app.test_client()
    post_password(client)
    response = post_code(client, in_script(totp_code(app, "casey@example.org"), script))
    assert response.status_code == 303
    assert client.get("/staff/queue").status_code == 200


@pytest.mark.parametrize("typed", NOT_CODES)
def test_anything_else_is_a_wrong_code_on_every_page_never_an_error(app, db, typed):
    client, _ = signed_in_client(app, db)
    # The identity check and the password change, signed in.
    page = client.get("/staff/confirm").get_data(as_text=True)
    confirm = client.post("/staff/confirm", data={"secret": typed, "csrf_token": csrf_from(page)})
    assert confirm.status_code == 400
    page = client.get("/staff/account/password").get_data(as_text=True)
    change = client.post(
        "/staff/account/password",
        data={
            "current_password": PASSWORD,
            "code": typed,
            "new_password": "lantern orchard seventy",
            "confirm_password": "lantern orchard seventy",
            "csrf_token": csrf_from(page),
        },
    )
    assert change.status_code == 400
    assert "The code is not right" in change.get_data(as_text=True)
    # The code step.
    other = app.test_client()
    post_password(other)
    assert post_code(other, typed).status_code == 400


def test_setting_up_reads_any_scripts_digits(app, db):
    link = create_with_the_command(app)
    client = app.test_client()
    use_link(client, link)
    page = client.get("/staff/sign-in/set-up").get_data(as_text=True)
    secret = page.split('id="totp-secret">', 1)[1].split("<", 1)[0].replace(" ", "")
    assert post_code(client, "٠٠٠٠٠٠", url="/staff/sign-in/set-up").status_code in (400, 200)
    code = in_script(pyotp.TOTP(secret).now(), "full-width")
    done = client.post(
        "/staff/sign-in/set-up",
        data={"code": code, "csrf_token": csrf_from(page)},
    )
    assert done.status_code == 200
    assert "Your recovery codes" in done.get_data(as_text=True)


def test_the_identity_check_and_the_password_change_read_any_scripts_digits(app, db):
    client, staff = signed_in_client(app, db)
    page = client.get("/staff/confirm").get_data(as_text=True)
    code = in_script(totp_code(app, staff.email), "arabic-indic")
    confirmed = client.post("/staff/confirm", data={"secret": code, "csrf_token": csrf_from(page)})
    assert confirmed.status_code == 303

    page = client.get("/staff/account/password").get_data(as_text=True)
    changed = client.post(
        "/staff/account/password",
        data={
            "current_password": PASSWORD,
            "code": in_script(totp_code(app, staff.email), "devanagari"),
            "new_password": "lantern orchard seventy",
            "confirm_password": "lantern orchard seventy",
            "csrf_token": csrf_from(page),
        },
    )
    assert changed.status_code == 303
    assert sign_in(app.test_client(), password="lantern orchard seventy").status_code == 303


def test_a_full_width_recovery_code_is_the_same_code():
    assert second_factor.normalise("ＡＢＣＤ－ＥＦＧＨ") == "ABCD-EFGH"
    assert second_factor.normalise(" ١٢٣ ٤٥٦ ") == "123456"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=24))
def test_no_text_breaks_the_reading_of_a_code(text):
    cleaned = second_factor.normalise(text)
    assert isinstance(cleaned, str)
    second_factor.looks_like_code(text)
    # What reaches the comparison is ASCII digits, or it is not compared at all.
    if second_factor._TOTP_CODE.match(cleaned):
        assert cleaned.isascii()
