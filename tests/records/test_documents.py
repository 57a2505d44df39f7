"""Taking a file: one transaction with its audit entry, so a worker that dies before the
commit leaves nothing anyone can see; a file written to RECORDS_PATH without its row is
unreachable and swept later."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, RequestDocument
from app.records import clamd, documents
from app.vocabulary import DocumentKind
from tests.support import records
from tests.support.staff import make_request


def _clean(_data: bytes) -> clamd.ScanResult:
    return clamd.ScanResult(clamd.Verdict.CLEAN)


class WorkerKilled(BaseException):
    """What SIGKILL looks like to the code that was running: nothing after it runs."""


def test_a_worker_killed_before_the_commit_leaves_no_file_visible(app, db, tmp_path, monkeypatch):
    request_id = make_request(db).id
    storage = documents.Storage(tmp_path / "records")
    monkeypatch.setattr(
        documents.trail, "record", lambda *a, **k: (_ for _ in ()).throw(WorkerKilled())
    )
    with Session(app.extensions["db_engine"]) as session, pytest.raises(WorkerKilled):
        documents.receive(
            session,
            request_id=request_id,
            kind=DocumentKind.PATHOLOGY,
            data=records.pdf(),
            now=datetime.now(UTC),
            limits=documents.RecordLimits(),
            scanner=_clean,
            storage=storage,
            client_ip=None,
        )
    # The session died without committing: no row, no audit entry, nothing to open.
    db.rollback()
    assert db.scalar(select(func.count()).select_from(RequestDocument)) == 0
    assert (
        db.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "document_received")
        )
        == 0
    )
    left = list((tmp_path / "records").iterdir())
    assert len(left) == 1 and not left[0].name.endswith(".partial"), (
        "written whole, named by no row"
    )
    # The retention run's sweep removes it once it is old enough.
    old = time.time() - 2 * 86400
    os.utime(left[0], (old, old))
    assert documents.remove_orphan_files(db, storage=storage, older_than=timedelta(days=1)) == 1
    assert not list((tmp_path / "records").iterdir())


def test_files_on_a_path_are_kept_there_and_read_back(app, db, tmp_path):
    request_id = make_request(db).id
    storage = documents.Storage(tmp_path / "records")
    sent = records.pdf()
    received = documents.receive(
        db,
        request_id=request_id,
        kind=DocumentKind.PATHOLOGY,
        data=sent,
        now=datetime.now(UTC),
        limits=documents.RecordLimits(),
        scanner=_clean,
        storage=storage,
        client_ip=None,
    )
    db.commit()
    row = db.get(RequestDocument, received.document_id)
    assert row.content is None and row.storage_key
    assert (tmp_path / "records" / row.storage_key).read_bytes() == sent
    assert oct((tmp_path / "records").stat().st_mode & 0o777) == "0o700"
