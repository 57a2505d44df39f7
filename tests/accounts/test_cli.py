"""`flask staff create|set-password|reset-second-factor|deactivate|list|break-glass`."""

from __future__ import annotations

from sqlalchemy import select

from app.models import StaffRole, StaffSecondFactor, StaffUser
from tests.support.staff import finish_set_up, link_in, sign_in, use_link


def run(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["staff", *args], input=input)


def test_create_reads_the_password_from_stdin_and_the_account_signs_in(app, db):
    result = run(
        app,
        "create",
        "Lee@Example.org",
        "--name",
        "Lee Park",
        "--role",
        "admin",
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "a long enough password" not in result.output
    staff = db.scalars(select(StaffUser)).one()
    assert (staff.email, staff.name, staff.role) == ("lee@example.org", "Lee Park", StaffRole.ADMIN)
    # The password alone opens nothing and sets up nothing: the printed one-time link,
    # on the site's address (SITE_URL), does, with the password.
    link = link_in(result.output)
    assert link.startswith(app.config["SITE_URL"] + "/staff/welcome?token=")
    assert (
        sign_in(app.test_client(), "lee@example.org", "a long enough password").status_code == 200
    )
    owner = app.test_client()
    assert use_link(owner, link, password="a long enough password").status_code == 303
    finish_set_up(owner)
    assert owner.get("/staff/queue").status_code == 200
    assert (
        sign_in(app.test_client(), "lee@example.org", "a long enough password").status_code == 303
    )


def test_reset_second_factor_prints_a_new_link_and_the_old_app_stops(app, db):
    created = run(
        app, "create", "lee@example.org", "--name", "Lee Park", input="long enough pass\n"
    )
    owner = app.test_client()
    use_link(owner, link_in(created.output), password="long enough pass")
    old_secret, _codes = finish_set_up(owner)

    reset = run(app, "reset-second-factor", "lee@example.org")
    assert reset.exit_code == 0, reset.output
    assert owner.get("/staff/queue").status_code == 302, "a reset signs the account out"
    db.rollback()
    assert db.scalars(select(StaffSecondFactor)).all() == []
    assert sign_in(app.test_client(), "lee@example.org", "long enough pass").status_code == 200

    again = app.test_client()
    assert use_link(again, link_in(reset.output), password="long enough pass").status_code == 303
    new_secret, _codes = finish_set_up(again)
    assert new_secret != old_secret


def test_create_refuses_short_passwords_and_duplicates(app, db):
    short = run(app, "create", "lee@example.org", "--name", "Lee", input="short\n")
    assert short.exit_code != 0
    assert "at least 12 characters" in short.output
    assert (
        run(app, "create", "lee@example.org", "--name", "Lee", input="long enough pass\n").exit_code
        == 0
    )
    again = run(app, "create", "LEE@example.org", "--name", "Lee", input="long enough pass\n")
    assert again.exit_code != 0
    assert "already an account" in again.output


def test_role_must_be_known(app):
    result = run(
        app, "create", "lee@example.org", "--name", "Lee", "--role", "root", input="x" * 12
    )
    assert result.exit_code != 0


def test_deactivate_and_list(app, db):
    run(app, "create", "lee@example.org", "--name", "Lee Park", input="long enough pass\n")
    run(app, "create", "ann@example.org", "--name", "Ann Lee", input="long enough pass\n")
    assert run(app, "deactivate", "lee@example.org").exit_code == 0
    listing = run(app, "list").output.splitlines()
    assert listing == [
        "ann@example.org\tAnn Lee\tintake\tactive",
        "lee@example.org\tLee Park\tintake\tdeactivated",
    ]
    assert sign_in(app.test_client(), "lee@example.org", "long enough pass").status_code == 200
    assert run(app, "deactivate", "nobody@example.org").exit_code != 0


def test_set_password_replaces_the_old_one_and_the_new_password_works(app, db):
    created = run(
        app, "create", "lee@example.org", "--name", "Lee Park", input="long enough pass\n"
    )
    setting_up = app.test_client()
    use_link(setting_up, link_in(created.output), password="long enough pass")
    finish_set_up(setting_up)
    client = app.test_client()
    result = run(app, "set-password", "lee@example.org", input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert sign_in(client, "lee@example.org", "long enough pass").status_code == 200
    assert sign_in(client, "lee@example.org", "a brand new password").status_code == 303
    assert run(app, "set-password", "lee@example.org", input="short\n").exit_code != 0


def test_passwords_leaning_on_the_persons_or_the_centers_name_are_refused(app, db):
    # zxcvbn alone scores both 3 ("safely unguessable"): the digits look random to it.
    for password in ("CaseyRivera2026!", "Moffitt2026!!"):
        result = run(
            app, "create", "casey@example.org", "--name", "Casey Rivera", input=password + "\n"
        )
        assert result.exit_code != 0, password
        assert "does not lean on your name or the center's name" in result.output
    assert run(app, "create", "casey@example.org", "--name", "Casey Rivera",
               input="casey rides seventeen blue ferries\n").exit_code == 0  # fmt: skip


def test_break_glass_prints_a_set_up_link_too(app, db):
    result = run(
        app, "break-glass", "er@example.org", "--name", "Ed Rivera", "--hours", "8",
        "--reason", "intake locked out", input="emergency only passphrase\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert (
        use_link(client, link_in(result.output), password="emergency only passphrase").status_code
        == 303
    )
    finish_set_up(client)
    assert client.get("/staff/queue").status_code == 200
