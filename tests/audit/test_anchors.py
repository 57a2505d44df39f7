"""The audit trail cannot be cut short unseen (issue 26).

A chain shows a changed or removed entry in the middle, but not its newest entries
removed, nor all of them: what is left still verifies. So every committed entry's id and
hash also goes to the JSON log, and `flask audit checkpoint` keeps signed lines in a file
outside the database; `flask audit verify --anchor` checks the table against them. And a
retention anchor (where the chain may start after retention) is recognised only from the
retention run's own entry, on exact fields.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit import chain, trail
from app.ops.logs import SafeJsonFormatter
from app.requests import retention
from app.vocabulary import AuditAction


class LogFile(logging.Handler):
    """The app's JSON log, as the log shipper keeps it: one line per record."""

    def __init__(self, path):
        super().__init__()
        self.setFormatter(SafeJsonFormatter())
        self.path = path

    def emit(self, record):
        with self.path.open("a", encoding="utf-8") as out:
            out.write(self.format(record) + "\n")


def logged(app, tmp_path, write) -> str:
    """Run ``write`` with the app's logs going to a file; returns the file's path."""
    path = tmp_path / "intake.log"
    handler = LogFile(path)
    logging.getLogger().addHandler(handler)
    try:
        write()
    finally:
        logging.getLogger().removeHandler(handler)
    return str(path)


def write_entries(app, count: int, *, commit: bool = True) -> None:
    with Session(app.extensions["db_engine"]) as session:
        for i in range(count):
            trail.record(session, action=AuditAction.EXPORT, detail=f"entry {i}")
        if commit:
            session.commit()
        else:
            session.rollback()


def remove(app, where: str) -> None:
    """Someone past the triggers (a superuser, or on SQLite any program that defines the
    maintenance function itself) deletes entries."""
    with app.extensions["db_engine"].begin() as conn:
        chain.switch_maintenance(conn, on=True)
        conn.execute(text(f"DELETE FROM audit_events WHERE {where}"))  # noqa: S608


def verify(app, *anchors: str):
    args = ["audit", "verify"]
    for anchor in anchors:
        args += ["--anchor", anchor]
    return app.test_cli_runner().invoke(args=args)


def test_every_committed_entry_is_anchored_in_the_log_and_no_other(app, tmp_path):
    log = logged(
        app, tmp_path, lambda: (write_entries(app, 3), write_entries(app, 2, commit=False))
    )
    lines = [json.loads(line) for line in Path(log).read_text(encoding="utf-8").splitlines()]
    anchors = [line for line in lines if line["message"] == "audit entry"]
    assert len(anchors) == 3, "entries a rollback took back are never logged"
    with app.extensions["db_engine"].connect() as conn:
        rows = conn.execute(text("SELECT id, row_hash FROM audit_events ORDER BY id")).all()
    assert [(a["audit_id"], a["row_hash"], a["event"]) for a in anchors] == [
        (row.id, row.row_hash, "export") for row in rows
    ]


def test_newest_entries_removed_are_found_against_the_log(app, tmp_path):
    log = logged(app, tmp_path, lambda: write_entries(app, 5))
    with app.extensions["db_engine"].connect() as conn:
        newest = conn.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
    remove(app, f"id >= {newest - 1}")
    # The chain alone cannot tell: what is left still verifies.
    assert verify(app).exit_code == 0
    result = verify(app, log)
    assert result.exit_code == 1
    assert "the newest entries were removed" in result.output
    assert f"the anchor records entries up to #{newest}" in result.output


def test_an_emptied_table_is_found_against_the_log(app, tmp_path):
    log = logged(app, tmp_path, lambda: write_entries(app, 3))
    remove(app, "1 = 1")
    assert verify(app).exit_code == 0
    result = verify(app, log)
    assert result.exit_code == 1
    assert "the trail is empty, but the anchor records entries up to" in result.output


def test_a_newest_entry_removed_before_the_next_was_written_is_found(app, tmp_path):
    """Removed at once, before another entry chained to it: the chain is whole again."""

    def write():
        write_entries(app, 3)
        with app.extensions["db_engine"].connect() as conn:
            newest = conn.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
        remove(app, f"id = {newest}")
        write_entries(app, 2)

    log = logged(app, tmp_path, write)
    assert verify(app).exit_code == 0
    result = verify(app, log)
    assert result.exit_code == 1
    # PostgreSQL never gives an id twice; SQLite gives the removed one to the next entry.
    assert (
        "recorded by the anchor, was removed" in result.output
        or "recorded it with two different hashes" in result.output
    ), result.output


def test_a_rebuilt_trail_does_not_match_its_anchors(app, tmp_path):
    """Everything removed and new entries written from the start: they chain from the
    beginning and verify, but not against what the log recorded."""
    log = logged(app, tmp_path, lambda: write_entries(app, 3))
    remove(app, "1 = 1")
    write_entries(app, 5)
    assert verify(app).exit_code == 0
    assert verify(app, log).exit_code == 1


def test_signed_checkpoints_anchor_the_trail_and_cannot_be_forged(app, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    write_entries(app, 4)
    made = app.test_cli_runner().invoke(args=["audit", "checkpoint", str(checkpoints)])
    assert made.exit_code == 0, made.output
    assert oct(checkpoints.stat().st_mode & 0o777) == "0o600"
    write_entries(app, 2)
    assert verify(app, str(checkpoints)).exit_code == 0

    with app.extensions["db_engine"].connect() as conn:
        newest = conn.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
    remove(app, f"id >= {newest - 2}")
    cut = verify(app, str(checkpoints))
    assert cut.exit_code == 1 and "the newest entries were removed" in cut.output

    # A line written without the key (to hide the cut) is refused as a whole.
    line = json.loads(checkpoints.read_text().splitlines()[0])
    line["audit_id"] = newest - 3
    forged = tmp_path / "forged"
    forged.write_text(json.dumps(line) + "\n")
    refused = verify(app, str(forged))
    assert refused.exit_code == 1
    assert "cannot be trusted: line 1: the checkpoint's signature does not match" in refused.output


def test_a_retention_run_is_not_a_cut(app, tmp_path):
    """Old entries removed by retention, and the run's own entry naming where the chain
    continues: the anchors of the removed entries are not missing ones."""

    def write():
        long_ago = datetime.now(UTC) - timedelta(days=3000)
        with Session(app.extensions["db_engine"]) as session:
            for i in range(3):
                trail.record(session, action=AuditAction.EXPORT, detail=f"old {i}", now=long_ago)
            session.commit()
        write_entries(app, 2)
        with Session(app.extensions["db_engine"]) as session:
            removed = retention.remove_old_audit_entries(
                session, older_than=datetime.now(UTC) - timedelta(days=2000)
            )
            session.commit()
        assert removed == 3

    log = logged(app, tmp_path, write)
    result = verify(app, log)
    assert result.exit_code == 0, result.output


def test_a_path_naming_a_hash_is_not_a_retention_anchor(app, db):
    """The old hole: one anonymous GET of /staff/requests/chain continues from <hash> wrote
    an entry whose text matched, and verify took it for retention's."""
    write_entries(app, 4)
    with app.extensions["db_engine"].connect() as conn:
        second = conn.execute(text("SELECT id, row_hash FROM audit_events ORDER BY id")).all()[1]
    app.test_client().get(f"/staff/requests/chain%20continues%20from%20{second.row_hash}")
    remove(app, f"id <= {second.id}")
    result = verify(app)
    assert result.exit_code == 1
    assert "no retention run removed the entries before it" in result.output


def test_only_the_retention_runs_own_entry_on_exact_fields_is_an_anchor(app, db):
    write_entries(app, 3)
    with app.extensions["db_engine"].connect() as conn:
        rows = conn.execute(text("SELECT id, row_hash FROM audit_events ORDER BY id")).all()
    removed_through, continues_from = rows[0].id, rows[0].row_hash
    detail = chain.retention_detail(removed_through=removed_through, continues_from=continues_from)
    # Entries the app itself wrote (so they chain), each one field away from retention's.
    near_misses = [
        dict(action=AuditAction.SIGN_IN_REQUIRED, to_value="1 removed", detail=detail),
        dict(action=AuditAction.AUDIT_ENTRIES_REMOVED, to_value="1 removed",
             detail=detail, client_ip="198.51.100.1"),
        dict(action=AuditAction.AUDIT_ENTRIES_REMOVED, to_value="1 removed",
             detail="GET /staff/requests/" + detail),
        dict(action=AuditAction.AUDIT_ENTRIES_REMOVED, to_value="1 removed",
             detail=detail + " (copy)"),
        dict(action=AuditAction.AUDIT_ENTRIES_REMOVED, to_value="a few", detail=detail),
    ]  # fmt: skip
    with Session(app.extensions["db_engine"]) as session:
        for fields in near_misses:
            trail.record(session, **fields)
        session.commit()
    remove(app, f"id <= {removed_through}")
    assert verify(app).exit_code == 1
    with Session(app.extensions["db_engine"]) as session:
        trail.record(
            session, action=AuditAction.AUDIT_ENTRIES_REMOVED, to_value="1 removed", detail=detail
        )
        session.commit()
    assert verify(app).exit_code == 0
