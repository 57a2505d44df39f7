"""Password rules, and staff changing their own password."""

from __future__ import annotations

import pytest

from app.accounts import staff_accounts
from app.accounts.password_rules import ADVICE, NAME_ADVICE, weakness
from tests.support.staff import csrf_from, make_staff, sign_in, signed_in_client, totp_code


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short pass", "at least 12"),
        (" " * 12, "not only spaces"),
        ("\t" * 6 + " " * 10, "not only spaces"),
        ("password1234", "harder to guess"),
        ("Password1234!", "harder to guess"),
        ("qwertyuiop12", "harder to guess"),
        ("iloveyou2024", "harder to guess"),
        ("casey intake 1", "harder to guess"),  # the person's own name
    ],
)
def test_weak_passwords_are_refused_with_what_to_do(app, db, password, message):
    with pytest.raises(staff_accounts.AccountError, match=message):
        make_staff(app, db, password=password)


def test_the_advice_says_what_to_do():
    assert "Try three or four unrelated words" in ADVICE
    assert weakness("lantern orchard seventy") is None


def test_the_cli_refuses_a_common_password(app, db):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "lee@example.org", "--name", "Lee Park"], input="password1234\n"
    )
    assert result.exit_code != 0
    assert "harder to guess" in result.output


def change(client, **fields):
    html = client.get("/staff/account/password").get_data(as_text=True)
    return client.post("/staff/account/password", data={**fields, "csrf_token": csrf_from(html)})


NEW = "lantern orchard seventy"


def test_staff_change_their_own_password_with_old_password_and_code(app, db):
    client, staff = signed_in_client(app, db)
    # A copy of the session cookie (taken by someone else) stops working after the change.
    with client.session_transaction() as session:
        copied = dict(session)
    other_device = app.test_client()
    with other_device.session_transaction() as session:
        session.update(copied)
    assert other_device.get("/staff/queue").status_code == 200
    response = change(
        client,
        current_password="correct horse battery",
        code=totp_code(app, staff.email),
        new_password=NEW,
        confirm_password=NEW,
    )
    assert response.status_code == 303
    assert client.get("/staff/queue").status_code == 200, "this session goes on"
    assert other_device.get("/staff/queue").status_code == 302, "other sessions end"
    assert sign_in(app.test_client(), password="correct horse battery").status_code == 200
    assert sign_in(app.test_client(), password=NEW).status_code == 303


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"current_password": "not my password"}, "Your current password is not right"),
        ({"code": "000000"}, "The code is not right"),
        ({"new_password": "password1234", "confirm_password": "password1234"}, "harder to guess"),
        ({"confirm_password": "something else entirely"}, "The two new passwords are not the same"),
        ({"code": ""}, "Enter the 6-digit code"),
    ],
)
def test_a_password_change_needs_everything_right(app, db, fields, message):
    client, staff = signed_in_client(app, db)
    data = {
        "current_password": "correct horse battery",
        "code": totp_code(app, staff.email),
        "new_password": NEW,
        "confirm_password": NEW,
        **fields,
    }
    response = change(client, **data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert NEW not in html and "correct horse battery" not in html
    assert sign_in(app.test_client()).status_code == 303, "the old password still works"


# zxcvbn alone scores these 3 ("safely unguessable"): the digits and symbols look random
# to it. Taken out, the person's and the center's names leave "2026!": refused.
LEANING_ON_NAMES = ["CaseyRivera2026!", "caseyrivera2026!", "Moffitt2026!!", "MoffittCancer#1"]


@pytest.mark.parametrize("password", LEANING_ON_NAMES)
def test_a_password_built_from_the_persons_or_the_centers_name_is_refused(password):
    names = {"user_inputs": ("casey.rivera@example.org", "Casey Rivera"),
             "center_names": ("Moffitt Cancer Center", "Comprehensive Breast Program")}  # fmt: skip
    assert weakness(password, **names) == NAME_ADVICE
    # A passphrase that merely contains a name is fine: what is left is strong.
    assert weakness("casey rides seventeen blue ferries", **names) is None


@pytest.mark.parametrize("password", ["CaseyRivera2026!", "Moffitt2026!!"])
def test_every_page_that_sets_a_password_refuses_them(app, db, password):
    client, staff = signed_in_client(app, db, name="Casey Rivera")
    response = change(
        client,
        current_password="correct horse battery",
        code=totp_code(app, staff.email),
        new_password=password,
        confirm_password=password,
    )
    assert response.status_code == 400
    assert "does not lean on your name or the center" in response.get_data(as_text=True)

    from tests.admin.test_accounts import add_account, admin_client, use_link

    db.rollback()
    admin, _ = admin_client(app, db)
    link = add_account(admin, email="pat.moffitt@example.org", name="Casey Rivera")
    refused = use_link(app.test_client(), link, password=password)
    assert refused.status_code == 400
    assert "does not lean on your name" in refused.get_data(as_text=True)
