"""`flask intake retention`: the retention policy on a schedule, idempotent, and safe to
start on every host at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.models import AppointmentRequest, AuditEvent, CloseReason, RequestEvent, RequestStatus
from app.requests import retention
from tests.support.staff import make_request, make_staff

NOW = datetime.now(UTC)


def aged(db, *, days: int, closed: bool, last_name: str = "Santos") -> AppointmentRequest:
    row = make_request(db, submitted_at=NOW - timedelta(days=days), last_name=last_name)
    if closed:
        db.execute(
            update(AppointmentRequest)
            .where(AppointmentRequest.id == row.id)
            .values(
                status=RequestStatus.CLOSED,
                closed_reason=CloseReason.DECLINED,
                closed_at=NOW - timedelta(days=days - 1),
            )
        )
    db.commit()
    return row


def actions(db, action: str) -> list[AuditEvent]:
    db.rollback()
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    )


@pytest.fixture
def app_overrides() -> dict:
    return {"RETENTION_CLOSED_DAYS": 180, "RETENTION_STALE_DAYS": 30}


def test_retention_applies_the_policy_once(app, db):
    old_closed = aged(db, days=200, closed=True, last_name="Oldclosed")
    recent_closed = aged(db, days=20, closed=True, last_name="Recentclosed")
    stale_open = aged(db, days=40, closed=False, last_name="Stale")
    busy_open = aged(db, days=40, closed=False, last_name="Busy")
    staff = make_staff(app, db)
    db.add(RequestEvent(request_id=busy_open.id, staff_id=staff.id, kind="note", note="called"))
    db.commit()

    runner = app.test_cli_runner()
    first = runner.invoke(args=["intake", "retention"])
    assert first.exit_code == 0, first.output
    assert "Removed patient data from 1 request(s) closed over 180 days ago" in first.output
    assert "flagged 1 request(s) untouched for 30 days" in first.output

    db.expire_all()
    assert db.get(AppointmentRequest, old_closed.id).last_name == ""
    assert db.get(AppointmentRequest, recent_closed.id).last_name == "Recentclosed"
    assert db.get(AppointmentRequest, stale_open.id).last_name == "Stale", "flagged, not purged"
    assert [e.request_id for e in actions(db, "stale_request")] == [stale_open.id]

    second = runner.invoke(args=["intake", "retention"])
    assert second.exit_code == 0, second.output
    assert "from 0 request(s)" in second.output and "flagged 0 request(s)" in second.output
    assert len(actions(db, "purge_patient_data")) == 1
    assert len(actions(db, "stale_request")) == 1
    runs = actions(db, "retention_run")
    assert len(runs) == 2, "every run is on the record"
    assert runs[0].detail.startswith("closed>180d purged=1; untouched>30d flagged=1")
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_a_stale_request_is_flagged_again_after_new_activity_goes_quiet(app, db):
    stale = aged(db, days=40, closed=False)
    policy = retention.RetentionPolicy(closed_days=180, stale_days=30)
    engine = app.extensions["db_engine"]
    with Session(engine) as session:
        assert retention.run_retention(session, now=NOW, policy=policy).flagged
        session.commit()
    with Session(engine) as session:
        assert retention.run_retention(session, now=NOW, policy=policy).flagged == []
        session.commit()
    staff = make_staff(app, db)
    # Someone works on it (a day after the flag), then it goes quiet again.
    db.add(
        RequestEvent(
            request_id=stale.id,
            staff_id=staff.id,
            kind="note",
            note="called",
            created_at=NOW + timedelta(days=1),
        )
    )
    db.commit()
    later = NOW + timedelta(days=32)
    with Session(engine) as session:
        assert retention.run_retention(session, now=later, policy=policy).flagged == [
            stale.reference
        ]
        session.commit()


def test_audit_entries_are_kept_at_least_six_years(app):
    with Session(app.extensions["db_engine"]) as session:
        with pytest.raises(ValueError, match="at least 6 years"):
            retention.run_retention(
                session,
                now=NOW,
                policy=retention.RetentionPolicy(closed_days=1, stale_days=1, audit_years=5),
            )


def test_two_runs_at_once_do_the_work_once(app, db, backend):
    """Two hosts' timers fire at the same moment: two connections run retention, the
    first holds its lock while the second tries; each request is purged exactly once."""
    if backend != "postgresql":
        pytest.skip("SQLite runs take turns on the database's write lock (BEGIN IMMEDIATE)")
    rows = [aged(db, days=200, closed=True, last_name=f"Old{i}") for i in range(5)]
    policy = retention.RetentionPolicy(closed_days=180, stale_days=30)
    engine = app.extensions["db_engine"]
    first_done = threading.Event()
    second_done = threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        with Session(engine) as session:
            results["first"] = retention.run_retention(session, now=NOW, policy=policy)
            first_done.set()
            # Hold the lock (uncommitted) until the second run has tried.
            second_done.wait(timeout=30)
            session.commit()

    def second() -> None:
        first_done.wait(timeout=30)
        with Session(engine) as session:
            results["second"] = retention.run_retention(session, now=NOW, policy=policy)
            session.commit()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results["second"] is None, "the second run found the lock held and did nothing"
    assert sorted(results["first"].purged) == sorted(r.reference for r in rows)
    purges = actions(db, "purge_patient_data")
    assert sorted(e.request_id for e in purges) == sorted(r.id for r in rows)
    assert len(actions(db, "retention_run")) == 1


def test_the_command_says_when_another_run_holds_the_lock(app, db, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL's advisory lock")
    aged(db, days=200, closed=True)
    with app.extensions["db_engine"].connect() as other_host:
        other_host.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": retention.RETENTION_LOCK_ID}
        )
        result = app.test_cli_runner().invoke(args=["intake", "retention"])
        other_host.rollback()
    assert result.exit_code == 0, result.output
    assert "Another retention run holds the lock; nothing done here." in result.output
    assert actions(db, "purge_patient_data") == []
    assert actions(db, "retention_run") == []


def test_admins_see_the_untouched_requests_on_the_audit_page(app, db):
    from app.models import StaffRole
    from tests.support.staff import signed_in_client

    stale = aged(db, days=40, closed=False)
    aged(db, days=5, closed=False, last_name="Fresh")
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    html = admin.get("/staff/audit").get_data(as_text=True)
    assert "1 open request untouched for 30 days or more" in html
    assert f"/staff/requests/{stale.reference}" in html


@pytest.mark.slow
def test_two_retention_commands_started_together_purge_each_request_once(app, db, backend):
    """Two real processes, as two hosts' timers would start them."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL: the multi-host database")
    import os
    import subprocess
    import sys
    from pathlib import Path

    rows = [aged(db, days=200, closed=True, last_name=f"Old{i}") for i in range(30)]
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "TEST_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "RETENTION_CLOSED_DAYS": "180",
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "intake", "retention"]
    runs = [
        subprocess.Popen(  # noqa: S603
            command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    said = " ".join(out for out, _err in outputs)
    assert said.count("Removed patient data from 30 request(s)") == 1, said
    purges = actions(db, "purge_patient_data")
    assert sorted(e.request_id for e in purges) == sorted(r.id for r in rows)
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_retention_removes_what_the_person_sent_with_the_rest(app, db, tmp_path):
    """Records (in the database and under RECORDS_PATH), signed releases and private links
    of a request past retention are removed; a recent one keeps them."""
    from app.models import RecordsRelease, RequestDocument, RequestLink

    app.config["RECORDS_PATH"] = str(tmp_path / "records")
    (tmp_path / "records").mkdir()
    on_disk = tmp_path / "records" / "abc.bin"
    on_disk.write_bytes(b"%PDF-1.4")
    old = aged(db, days=200, closed=True, last_name="Oldclosed")
    recent = aged(db, days=20, closed=True, last_name="Recentclosed")
    for row, key in ((old, "abc.bin"), (recent, None)):
        db.add(
            RequestDocument(
                request_id=row.id,
                kind="pathology",
                sha256=str(row.id).ljust(64, "0"),
                content_type="application/pdf",
                size=8,
                scan_status="clean",
                content=None if key else b"%PDF-1.4",
                storage_key=key,
            )
        )
        db.add(
            RecordsRelease(
                request_id=row.id,
                holders=[{"name": "Bayside Oncology"}],
                records=["pathology"],
                signer="patient",
                signer_name="Maria Santos",
                language="en",
                text="Authorization...",
                text_sha256="0" * 64,
            )
        )
    db.commit()
    old_id, recent_id = old.id, recent.id
    result = app.test_cli_runner().invoke(args=["intake", "retention"])
    assert result.exit_code == 0, result.output
    db.rollback()
    for model in (RequestDocument, RecordsRelease, RequestLink):
        owners = db.scalars(select(model.request_id)).all()
        assert old_id not in owners and recent_id in owners, model.__name__
    assert not on_disk.exists()
