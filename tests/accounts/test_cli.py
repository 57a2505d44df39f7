"""`flask staff create|deactivate|list`."""

from __future__ import annotations

from sqlalchemy import select

from app.models import StaffRole, StaffUser
from tests.support.staff import sign_in


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
    assert (
        sign_in(app.test_client(), "lee@example.org", "a long enough password").status_code == 303
    )


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
    # (It used to lift a lock-out too; there are no lock-outs since issue 13.)
    run(app, "create", "lee@example.org", "--name", "Lee Park", input="long enough pass\n")
    client = app.test_client()
    result = run(app, "set-password", "lee@example.org", input="a brand new password\n")
    assert result.exit_code == 0, result.output
    assert sign_in(client, "lee@example.org", "long enough pass").status_code == 200
    assert sign_in(client, "lee@example.org", "a brand new password").status_code == 303
    assert run(app, "set-password", "lee@example.org", input="short\n").exit_code != 0
