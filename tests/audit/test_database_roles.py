"""On PostgreSQL the app runs as a role that can only add to and read the audit trail,
and retention as another (deploy/postgresql-roles.sql, docs/production.md).

The roles here have names of their own (the server is shared) and are dropped at the
end. The tables are owned by the suite's superuser, as production's by the owner role.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit import chain, trail
from app.ops.deploy_check import database_role_warnings
from app.vocabulary import AuditAction
from tests.conftest import make_test_app
from tests.support.databases import ROOT
from tests.support.staff import make_staff, sign_in

ROLES_SQL = ROOT / "deploy" / "postgresql-roles.sql"


def role_statements(app_role: str, retention_role: str) -> list[str]:
    """The file's statements with psql's variables filled in, as psql would."""
    sql = "\n".join(
        line for line in ROLES_SQL.read_text().splitlines() if not line.startswith("--")
    )
    sql = sql.replace(':"app_role"', f'"{app_role}"').replace(
        ':"retention_role"', f'"{retention_role}"'
    )
    return [statement.strip() for statement in sql.split(";") if statement.strip()]


@pytest.fixture
def roles(backend, database_url) -> Iterator[tuple[str, str]]:
    if backend != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    suffix = secrets.token_hex(4)
    app_role, retention_role = f"test_intake_app_{suffix}", f"test_intake_retention_{suffix}"
    owner = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with owner.connect() as conn:
            for role in (app_role, retention_role):
                conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            for statement in role_statements(app_role, retention_role):
                conn.execute(text(statement))
        yield app_role, retention_role
    finally:
        with owner.connect() as conn:
            for role in (app_role, retention_role):
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()


def as_role(database_url: str, role: str) -> str:
    return make_url(database_url).set(username=role).render_as_string(hide_password=False)


def refused(engine, statement: str, *, maintenance: bool = False) -> str:
    """Run a statement as the engine's role; returns PostgreSQL's refusal (fails if none)."""
    with pytest.raises(DBAPIError) as caught:
        with engine.begin() as conn:
            if maintenance:
                chain.switch_maintenance(conn, on=True)
            conn.execute(text(statement))
    return str(caught.value.orig)


CUTTING_THE_TRAIL_SHORT = [
    ("DELETE FROM audit_events", False),
    # Its own switch on: the trigger would allow it, the privileges do not.
    ("DELETE FROM audit_events", True),
    ("TRUNCATE audit_events", True),
    ("TRUNCATE staff_users CASCADE", True),
    ("UPDATE audit_events SET detail = 'nothing to see'", True),
    ("DELETE FROM request_events", True),
    ("UPDATE request_events SET note = NULL", True),
    # Switching the triggers off, by each way PostgreSQL has.
    ("ALTER TABLE audit_events DISABLE TRIGGER ALL", False),
    ("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only", False),
    ("DROP TRIGGER audit_events_append_only ON audit_events", False),
    ("SET session_replication_role = replica", False),
    (
        "CREATE OR REPLACE FUNCTION intake_audit_events_append_only() RETURNS trigger"
        " AS $$ BEGIN RETURN OLD; END; $$ LANGUAGE plpgsql",
        False,
    ),
    ("ALTER TABLE audit_events OWNER TO CURRENT_USER", False),
]


def test_the_apps_role_adds_and_reads_but_cannot_cut_the_trail_short(app, db, roles, database_url):
    app_role, _retention = roles
    make_staff(app, db)
    as_app = make_test_app(as_role(database_url, app_role))
    engine = as_app.extensions["db_engine"]
    # The app works as this role: a sign-in writes the trail and changes the account.
    assert sign_in(as_app.test_client()).status_code == 303
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() == app_role
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() >= 1
    for statement, maintenance in CUTTING_THE_TRAIL_SHORT:
        message = refused(engine, statement, maintenance=maintenance)
        assert re.search(r"permission denied|must be owner", message), (statement, message)
    assert as_app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_retention_runs_as_its_own_role_and_still_only_through_the_switch(
    app, db, roles, database_url
):
    _app_role, retention_role = roles
    long_ago = datetime.now(UTC) - timedelta(days=7 * 365)
    with Session(app.extensions["db_engine"]) as session:
        for i in range(3):
            trail.record(session, action=AuditAction.EXPORT, detail=f"old {i}", now=long_ago)
        trail.record(session, action=AuditAction.EXPORT, detail="recent")
        session.commit()
    as_retention = make_test_app(as_role(database_url, retention_role))
    engine = as_retention.extensions["db_engine"]
    # Without the switch the triggers refuse it; TRUNCATE and the triggers are the
    # owner's alone.
    assert "append-only" in refused(engine, "DELETE FROM audit_events")
    for statement in ("TRUNCATE audit_events", "ALTER TABLE audit_events DISABLE TRIGGER ALL"):
        assert re.search(r"permission denied|must be owner", refused(engine, statement))

    result = as_retention.test_cli_runner().invoke(args=["intake", "retention"])
    assert result.exit_code == 0, result.output
    assert "removed 3 audit entries" in result.output
    assert as_retention.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_check_deploy_warns_when_the_app_could_cut_the_trail(app, roles, database_url):
    app_role, retention_role = roles

    def warnings_as(role: str) -> list[str]:
        engine = create_engine(as_role(database_url, role))
        try:
            with engine.connect() as conn:
                return database_role_warnings(conn)
        finally:
            engine.dispose()

    with app.extensions["db_engine"].connect() as conn:  # the owner (a superuser here)
        (warning,) = database_role_warnings(conn)
    assert "can delete or empty the audit trail" in warning
    assert warnings_as(app_role) == []
    # The retention role may delete old entries: the app must not run as it.
    assert len(warnings_as(retention_role)) == 1


def test_docs_production_gives_the_sql_this_file_holds():
    docs = (ROOT / "docs" / "production.md").read_text()
    statements = [
        line for line in ROLES_SQL.read_text().splitlines() if line and not line.startswith("--")
    ]
    assert statements and all(line in docs for line in statements)
