"""The audit trail is tamper-evident in the database itself: triggers refuse changes made
with plain SQL, and `flask audit verify` finds a change made by someone who could get
past the triggers (a superuser dropping them)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit import chain, trail
from app.models import RequestEvent
from app.vocabulary import AuditAction
from tests.support.staff import make_request, make_staff


def write_entries(app, count: int = 3) -> None:
    with Session(app.extensions["db_engine"]) as session:
        for i in range(count):
            trail.record(session, action=AuditAction.EXPORT, detail=f"entry {i}")
        session.commit()


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def first_id(app) -> int:
    with app.extensions["db_engine"].connect() as conn:
        return conn.execute(text("SELECT min(id) FROM audit_events")).scalar_one()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET detail = 'nothing to see'",
        "UPDATE audit_events SET staff_id = NULL",
        "DELETE FROM audit_events",
        "UPDATE request_events SET note = 'rewritten'",
        "DELETE FROM request_events",
    ],
)
def test_raw_sql_cannot_change_or_remove_entries(app, db, statement):
    write_entries(app)
    staff = make_staff(app, db)
    row = make_request(db)
    db.add(RequestEvent(request_id=row.id, staff_id=staff.id, kind="note", note="Called"))
    db.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        with app.extensions["db_engine"].begin() as conn:
            conn.execute(text(statement))
    assert verify(app).exit_code == 0


def test_postgresql_refuses_truncate(app, backend):
    if backend != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    write_entries(app)
    for table in ("audit_events", "request_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            with app.extensions["db_engine"].begin() as conn:
                conn.execute(text(f"TRUNCATE {table} CASCADE"))


def test_sqlite_refuses_changes_from_outside_the_app(app, database_url, backend):
    """The sqlite3 shell, or any program but the app, cannot even switch maintenance on."""
    if backend != "sqlite":
        pytest.skip("SQLite file only")
    write_entries(app)
    conn = sqlite3.connect(make_url(database_url).database)
    try:
        for statement in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(sqlite3.DatabaseError):
                conn.execute(statement)
            conn.rollback()
    finally:
        conn.close()


def test_retention_blanks_notes_only_through_maintenance(app, db):
    """The one change the history allows, and only inside audit maintenance: a note set to
    NULL with nothing else changed."""
    staff = make_staff(app, db)
    row = make_request(db)
    db.add(RequestEvent(request_id=row.id, staff_id=staff.id, kind="note", note="Called"))
    db.commit()
    engine = app.extensions["db_engine"]
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as conn:
            chain.switch_maintenance(conn, on=True)
            conn.execute(text("UPDATE request_events SET note = NULL, kind = 'claim'"))
    with engine.begin() as conn:
        chain.switch_maintenance(conn, on=True)
        conn.execute(text("UPDATE request_events SET note = NULL"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT note FROM request_events")).scalar_one() is None


def _triggers(conn, backend: str) -> list[str]:
    if backend == "postgresql":
        return list(
            conn.execute(
                text(
                    "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
                    " WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal"
                )
            ).scalars()
        )
    return list(
        conn.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'"
            )
        ).scalars()
    )


def tamper(app, backend: str, statement: str) -> None:
    """An attacker with more rights than the app: drop the triggers, change the trail,
    and put the triggers back (all in one transaction, so other tests never see the
    database without them)."""
    with app.extensions["db_engine"].begin() as conn:
        definitions = _triggers(conn, backend)
        assert definitions, "the migration created the triggers"
        for name in ("audit_events_append_only", "audit_events_no_truncate"):
            if backend == "postgresql":
                conn.execute(text(f"DROP TRIGGER {name} ON audit_events"))
        if backend == "sqlite":
            for name in ("audit_events_no_update", "audit_events_no_delete"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        conn.execute(text(statement))
        for definition in definitions:
            conn.execute(text(definition))


@pytest.mark.parametrize(
    ("statement", "broken", "problem"),
    [
        ("UPDATE audit_events SET detail = 'harmless' WHERE id = {second}", 1, "changed"),
        ("UPDATE audit_events SET action = 'sign_in' WHERE id = {second}", 1, "changed"),
        ("DELETE FROM audit_events WHERE id = {second}", 2, "removed or inserted"),
        ("DELETE FROM audit_events WHERE id = {first}", 1, "does not start the chain"),
    ],
    ids=["changed detail", "changed action", "removed entry", "removed first entry"],
)
def test_verify_finds_the_first_tampered_entry(app, backend, statement, broken, problem):
    write_entries(app, 4)
    start = first_id(app)
    assert verify(app).exit_code == 0
    tamper(app, backend, statement.format(first=start, second=start + 1))
    result = verify(app)
    assert result.exit_code == 1
    assert f"BROKEN at entry #{start + broken}" in result.output
    assert problem in result.output
    # The triggers are back.
    with pytest.raises(DBAPIError, match="append-only"):
        with app.extensions["db_engine"].begin() as conn:
            conn.execute(text("DELETE FROM audit_events"))


def test_a_chain_rebuilt_without_the_key_does_not_verify(app, backend):
    """Someone who rewrites an entry and recomputes its hash without the app's key."""
    write_entries(app, 2)
    start = first_id(app)
    import hashlib

    forged = hashlib.sha256(b"anything").hexdigest()
    tamper(
        app,
        backend,
        f"UPDATE audit_events SET detail = 'x', row_hash = '{forged}' WHERE id = {start}",
    )
    assert "BROKEN at entry #" + str(start) in verify(app).output


def test_verify_reports_an_intact_trail(app):
    write_entries(app, 5)
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert "Audit trail intact: 5 entries checked" in result.output


def test_concurrent_writers_keep_the_chain_linear(app, backend):
    """Workers writing at once (threads with their own connections here; processes and
    hosts take the same database lock) still produce one unbroken chain."""
    engine = app.extensions["db_engine"]
    errors: list[BaseException] = []
    if backend == "sqlite":
        engine = engine.execution_options(sqlite_write=True)

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with Session(engine) as session:
                    trail.record(session, action=AuditAction.EXPORT, detail=f"writer {n} entry {i}")
                    session.commit()
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert "40 entries checked" in result.output


def test_old_entries_removed_by_retention_leave_a_verifiable_chain(app, db):
    long_ago = datetime.now(UTC) - timedelta(days=7 * 365)
    with Session(app.extensions["db_engine"]) as session:
        for i in range(3):
            trail.record(session, action=AuditAction.EXPORT, detail=f"old {i}", now=long_ago)
        trail.record(session, action=AuditAction.EXPORT, detail="recent")
        session.commit()
    result = app.test_cli_runner().invoke(args=["intake", "retention"])
    assert result.exit_code == 0, result.output
    assert "removed 3 audit entries over 6 years old" in result.output
    db.rollback()
    details = list(db.execute(text("SELECT detail FROM audit_events ORDER BY id")).scalars())
    assert details[0] == "recent"
    assert not any(d.startswith("old") for d in details)
    verified = verify(app)
    assert verified.exit_code == 0, verified.output
