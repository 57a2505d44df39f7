"""Account management by admins in the app: add an account by one-time link, change a
role, deactivate, reset a second factor; each in the audit trail. And the CLI's rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
from bs4 import BeautifulSoup
from sqlalchemy import select, update

from app.models import AuditEvent, StaffInvitation, StaffRole, StaffUser
from tests.support.staff import PASSWORD, csrf_from, finish_set_up, sign_in, signed_in_client
from tests.support.staff import use_link as use_set_up_link

NEW_PASSWORD = "lantern orchard seventy"  # noqa: S105


def admin_client(app, db):
    return signed_in_client(
        app, db, role=StaffRole.ADMIN, email="ada@example.org", name="Ada Admin"
    )


def add_account(admin, email="noor@example.org", name="Noor Haddad", role="intake") -> str:
    page = admin.get("/staff/accounts/new").get_data(as_text=True)
    response = admin.post(
        "/staff/accounts/new",
        data={"email": email, "name": name, "role": role, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    link = BeautifulSoup(response.get_data(as_text=True), "html.parser").select_one("#set-up-link")
    return link.get_text().strip()


def path_of(link: str) -> str:
    return link.split("localhost", 1)[1]


def use_link(client, link: str, password: str = NEW_PASSWORD):
    page = client.get(path_of(link))
    if page.status_code != 200:
        return page
    return client.post(
        path_of(link),
        data={
            "new_password": password,
            "confirm_password": password,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )


def actions(db) -> list[tuple[str, str | None, str | None]]:
    db.rollback()
    return [
        (e.action, e.to_value, e.detail)
        for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))
    ]


def test_an_admin_adds_an_account_and_the_person_sets_password_and_app(app, db):
    admin, ada = admin_client(app, db)
    link = add_account(admin)
    assert "/staff/welcome?token=" in link
    # The token is stored only as a hash.
    token = link.rsplit("=", 1)[1]
    db.rollback()
    assert token not in db.scalars(select(StaffInvitation.token_hash)).one()
    assert ("account_created", "intake", "account noor@example.org") in actions(db)

    person = app.test_client()
    response = use_link(person, link)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/sign-in/set-up")
    page = person.get("/staff/sign-in/set-up").get_data(as_text=True)
    secret = (
        BeautifulSoup(page, "html.parser").select_one("#totp-secret").get_text().replace(" ", "")
    )
    done = person.post(
        "/staff/sign-in/set-up",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page)},
    )
    assert done.status_code == 200
    assert person.get("/staff/queue").status_code == 200
    assert "account_link_used" in [a for a, _, _ in actions(db)]


def test_the_link_works_once(app, db):
    admin, _ = admin_client(app, db)
    link = add_account(admin)
    assert use_link(app.test_client(), link).status_code == 303
    again = use_link(app.test_client(), link, password="another strong passphrase")
    assert again.status_code == 404
    assert "This link no longer works" in again.get_data(as_text=True)
    # And the first password stands.
    assert (
        sign_in(app.test_client(), "noor@example.org", "another strong passphrase").status_code
        == 200
    )


def test_a_link_opened_twice_before_use_is_still_spent_once(app, db):
    admin, _ = admin_client(app, db)
    link = add_account(admin)
    first, second = app.test_client(), app.test_client()
    page_one = first.get(path_of(link)).get_data(as_text=True)
    page_two = second.get(path_of(link)).get_data(as_text=True)
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert (
        first.post(path_of(link), data={**data, "csrf_token": csrf_from(page_one)}).status_code
        == 303
    )
    assert (
        second.post(path_of(link), data={**data, "csrf_token": csrf_from(page_two)}).status_code
        == 404
    )


def test_an_expired_link_is_refused(app, db):
    admin, _ = admin_client(app, db)
    link = add_account(admin)
    db.rollback()
    db.execute(update(StaffInvitation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.commit()
    response = use_link(app.test_client(), link)
    assert response.status_code == 404
    assert "ask an intake administrator for a new link" in response.get_data(as_text=True)


def test_a_made_up_link_is_refused(app, db):
    assert app.test_client().get("/staff/welcome?token=made-up").status_code == 404
    assert app.test_client().get("/staff/welcome").status_code == 404


def test_the_link_page_checks_the_password(app, db):
    admin, _ = admin_client(app, db)
    link = add_account(admin)
    response = use_link(app.test_client(), link, password="password1234")
    assert response.status_code == 400
    assert "harder to guess" in response.get_data(as_text=True)
    # Not spent by a refused password.
    assert use_link(app.test_client(), link).status_code == 303


def test_a_duplicate_email_gets_a_message_on_the_field(app, db):
    admin, _ = admin_client(app, db)
    page = admin.get("/staff/accounts/new").get_data(as_text=True)
    response = admin.post(
        "/staff/accounts/new",
        data={
            "email": "ADA@example.org",
            "name": "Ada Again",
            "role": "intake",
            "csrf_token": csrf_from(page),
        },
    )
    assert response.status_code == 400
    assert "There is already an account for ada@example.org" in response.get_data(as_text=True)


def post_button(admin, staff_id: int, action: str, data: dict | None = None):
    page = admin.get(f"/staff/accounts/{staff_id}").get_data(as_text=True)
    return admin.post(
        f"/staff/accounts/{staff_id}/{action}", data={**(data or {}), "csrf_token": csrf_from(page)}
    )


def test_change_role_deactivate_reactivate_and_reset_are_audited(app, db):
    casey, casey_row = signed_in_client(app, db)
    admin, ada = admin_client(app, db)

    assert post_button(admin, casey_row.id, "role", {"role": "admin"}).status_code == 303
    db.rollback()
    assert db.get(StaffUser, casey_row.id).role == StaffRole.ADMIN

    reset = post_button(admin, casey_row.id, "reset-second-factor")
    assert reset.status_code == 200
    assert casey.get("/staff/queue").status_code == 302, "a reset signs the account out"
    # The password alone sets up nothing; the link the admin was shown does, with it.
    assert sign_in(app.test_client()).status_code == 200
    link = BeautifulSoup(reset.get_data(as_text=True), "html.parser").select_one("#set-up-link")
    assert "types their password" in reset.get_data(as_text=True)
    owner = app.test_client()
    assert use_set_up_link(owner, link.get_text(), password=PASSWORD).status_code == 303
    finish_set_up(owner)
    assert owner.get("/staff/queue").status_code == 200

    assert post_button(admin, casey_row.id, "deactivate").status_code == 303
    assert sign_in(app.test_client()).status_code == 200
    assert post_button(admin, casey_row.id, "reactivate").status_code == 303

    done = [(a, v) for a, v, d in actions(db) if d == "account casey@example.org"]
    assert done == [
        ("role_changed", "admin"),
        ("second_factor_reset", None),
        ("account_link_issued", "second factor"),
        ("account_link_used", None),
        ("account_deactivated", None),
        ("account_reactivated", None),
    ]
    db.rollback()
    assert {
        e.staff_id
        for e in db.scalars(select(AuditEvent).where(AuditEvent.action == "role_changed"))
    } == {ada.id}


def test_an_admin_cannot_demote_or_deactivate_themselves(app, db):
    admin, ada = admin_client(app, db)
    response = post_button(admin, ada.id, "deactivate")
    assert response.status_code == 303
    assert "ask another admin" in admin.get(response.headers["Location"]).get_data(as_text=True)
    db.rollback()
    assert db.get(StaffUser, ada.id).active


def test_a_new_link_for_a_forgotten_password(app, db):
    _casey, casey_row = signed_in_client(app, db)
    admin, _ = admin_client(app, db)
    response = post_button(admin, casey_row.id, "link")
    assert response.status_code == 200
    link = (
        BeautifulSoup(response.get_data(as_text=True), "html.parser")
        .select_one("#set-up-link")
        .get_text()
    )
    person = app.test_client()
    assert use_link(person, link.strip()).status_code == 303
    # The old app is forgotten; the link's browser sets up the new one.
    assert sign_in(app.test_client(), password=NEW_PASSWORD).status_code == 200
    finish_set_up(person)
    assert sign_in(app.test_client(), password=NEW_PASSWORD).status_code == 303


def test_the_accounts_page_lists_everyone(app, db):
    signed_in_client(app, db)
    admin, _ = admin_client(app, db)
    html = admin.get("/staff/accounts").get_data(as_text=True)
    assert "Casey Intake" in html and "Ada Admin" in html
    assert re.search(r"Casey Intake.*?Set up", html, re.S)


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["staff", *args], input=input)


def test_the_command_line_writes_audit_rows(app, db):
    assert (
        run(
            app, "create", "lee@example.org", "--name", "Lee Park", input="long enough pass\n"
        ).exit_code
        == 0
    )
    assert (
        run(app, "set-password", "lee@example.org", input="a brand new password\n").exit_code == 0
    )
    assert run(app, "reset-second-factor", "lee@example.org").exit_code == 0
    assert run(app, "deactivate", "lee@example.org").exit_code == 0
    rows = actions(db)
    assert [a for a, _, _ in rows] == [
        "account_created",
        "account_link_issued",
        "password_set",
        "second_factor_reset",
        "account_link_issued",
        "account_deactivated",
    ]
    assert all(d.startswith("account lee@example.org via command line") for _, _, d in rows)
    assert run(app, "reset-second-factor", "nobody@example.org").exit_code != 0
