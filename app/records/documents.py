"""Records sent from the private page: taking a file, scanning it, and who sees what.

A file is taken in one transaction with its audit entry: checked and cleaned
(files.py), scanned by clamd (clamd.py), stored, its history line written. Nothing of it
is visible before the commit, so a worker killed mid-upload leaves nothing half there (a
file written to RECORDS_PATH whose row never committed has no row: nobody can reach it,
and ``remove_orphan_files`` deletes it later).

Only a CLEAN document is ever listed to staff with a preview or a download, or exported;
one clamd flagged, or could not scan, is held apart (``scan_status``) until
``scan_held`` gets an answer. The same file sent twice for a request (the SHA-256 of
what was sent) is kept once: the second send answers with the first.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from app.audit import trail
from app.common import metrics
from app.common.actor import Actor
from app.common.errors import NotFound
from app.models import AppointmentRequest, RequestDocument, RequestEvent
from app.records import clamd, files
from app.vocabulary import AuditAction, DocumentKind, EventKind, ScanStatus

MEGABYTE = 1024 * 1024
# Why a file is refused beyond files.py's reasons.
TOO_BIG = "too_big"
REQUEST_FULL = "request_full"
TOO_MANY_FILES = "too_many_files"

Scanner = Callable[[bytes], clamd.ScanResult]

_STATUS_OF = {
    clamd.Verdict.CLEAN: ScanStatus.CLEAN,
    clamd.Verdict.FLAGGED: ScanStatus.FLAGGED,
    clamd.Verdict.UNAVAILABLE: ScanStatus.PENDING,
}


@dataclass(frozen=True, kw_only=True)
class RecordLimits:
    file_bytes: int = 10 * MEGABYTE
    request_bytes: int = 100 * MEGABYTE
    files: int = 40


@dataclass(frozen=True)
class Storage:
    """Where the bytes go: the row (``path`` None, the default) or a directory ops chose.

    On a path, each file is written under a random name, flushed to disk and renamed into
    place before the row that names it commits."""

    path: Path | None = None

    def put(self, data: bytes) -> tuple[bytes | None, str | None]:
        if self.path is None:
            return data, None
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_hex(16) + ".bin"
        partial = self.path / f".{key}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, self.path / key)
        return None, key

    def get(self, document: RequestDocument) -> bytes:
        if document.storage_key is None:
            return document.content or b""
        if self.path is None:
            raise NotFound("document file")
        return (self.path / document.storage_key).read_bytes()

    def remove(self, keys: Iterable[str | None]) -> None:
        if self.path is None:
            return
        for key in keys:
            if key:
                (self.path / key).unlink(missing_ok=True)


class Refused(ValueError):
    """A file not taken; ``reason`` says why (files.py's reasons, or the limits here)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Received:
    document_id: int
    scan_status: ScanStatus
    # The same file was already there: nothing new was stored.
    already_there: bool = False


def receive(
    session: Session,
    *,
    request_id: int,
    kind: DocumentKind,
    data: bytes,
    now: datetime,
    limits: RecordLimits,
    scanner: Scanner,
    storage: Storage,
    client_ip: str | None,
) -> Received:
    """Take one file sent for a request, or raise ``Refused``. Flushes, never commits."""
    if len(data) > limits.file_bytes:
        raise Refused(TOO_BIG)
    digest = hashlib.sha256(data).hexdigest()
    existing = _existing(session, request_id, digest)
    if existing is not None:
        return existing
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(RequestDocument.size), 0)).where(
            RequestDocument.request_id == request_id
        )
    ).one()
    if count >= limits.files:
        raise Refused(TOO_MANY_FILES)
    try:
        kept = files.keepable(data)
    except files.Refused as refusal:
        raise Refused(refusal.reason) from None
    if total + len(kept.content) > limits.request_bytes:
        raise Refused(REQUEST_FULL)
    result = scanner(kept.content)
    status = _STATUS_OF[result.verdict]
    metrics.count_document_scanned(status)
    content, key = storage.put(kept.content)
    document = RequestDocument(
        request_id=request_id,
        kind=kind,
        sha256=digest,
        content_type=kept.content_type,
        size=len(kept.content),
        scan_status=status,
        scan_detail=result.detail,
        scanned_at=now if status != ScanStatus.PENDING else None,
        content=content,
        storage_key=key,
    )
    try:
        # A savepoint: the same file sent twice at once (two workers) meets the unique
        # index, and the loser answers with the winner's row.
        with session.begin_nested():
            session.add(document)
            session.flush()
    except IntegrityError:
        storage.remove([key])
        found = _existing(session, request_id, digest)
        if found is None:
            raise
        return found
    session.add(
        RequestEvent(
            request_id=request_id, staff_id=None, kind=EventKind.DOCUMENT_SENT, note=kind.label
        )
    )
    trail.record(
        session,
        action=AuditAction.DOCUMENT_RECEIVED
        if status == ScanStatus.CLEAN
        else AuditAction.DOCUMENT_HELD,
        request_id=request_id,
        to_value=status.value,
        detail=f"document {document.id}: {kind.value}, {document.size} bytes"
        + (f", {result.detail}" if result.detail else ""),
        client_ip=client_ip,
    )
    if status == ScanStatus.CLEAN:
        _mark_added(session, request_id, now)
    session.flush()
    return Received(document.id, status)


def _existing(session: Session, request_id: int, digest: str) -> Received | None:
    found = session.execute(
        select(RequestDocument.id, RequestDocument.scan_status).where(
            RequestDocument.request_id == request_id, RequestDocument.sha256 == digest
        )
    ).first()
    if found is None:
        return None
    return Received(found.id, ScanStatus(found.scan_status), already_there=True)


def _mark_added(session: Session, request_id: int, now: datetime) -> None:
    session.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == request_id)
        .values(documents_added_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, kw_only=True)
class DocumentRow:
    id: int
    kind: DocumentKind
    content_type: str
    size: int
    received_at: datetime
    scan_status: ScanStatus
    # Staff only: what clamd said of a held file (a signature name, "clamd unreachable").
    scan_detail: str | None

    @property
    def can_open(self) -> bool:
        return self.scan_status == ScanStatus.CLEAN

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def documents_of(session: Session, *, request_id: int) -> list[DocumentRow]:
    """Every document of a request, newest first, without their bytes."""
    rows = session.execute(
        select(
            RequestDocument.id,
            RequestDocument.kind,
            RequestDocument.content_type,
            RequestDocument.size,
            RequestDocument.received_at,
            RequestDocument.scan_status,
            RequestDocument.scan_detail,
        )
        .where(RequestDocument.request_id == request_id)
        .order_by(RequestDocument.id.desc())
    )
    return [
        DocumentRow(
            id=r.id,
            kind=DocumentKind(r.kind),
            content_type=r.content_type,
            size=r.size,
            received_at=r.received_at,
            scan_status=ScanStatus(r.scan_status),
            scan_detail=r.scan_detail,
        )
        for r in rows
    ]


@dataclass(frozen=True, kw_only=True)
class OpenedDocument:
    id: int
    request_id: int
    reference: str
    kind: DocumentKind
    content_type: str
    received_at: datetime
    content: bytes

    @property
    def file_name(self) -> str:
        """A name that says nothing about the patient: the reference, the kind, the id."""
        suffix = {files.PDF: "pdf", files.JPEG: "jpg", files.PNG: "png"}[self.content_type]
        return f"request-{self.reference}-{self.kind.value}-{self.id}.{suffix}"


def open_document(
    session: Session,
    *,
    reference: str,
    document_id: int,
    storage: Storage,
    actor: Actor,
    action: AuditAction | None,
) -> OpenedDocument:
    """A clean document's bytes for staff, with its audit entry for ``action`` (a
    preview); ``None`` for a download, whose entry the one download rule writes
    (app/auth/downloads.py). A held document is NotFound, exactly as one that does not
    exist."""
    found = session.execute(
        select(RequestDocument, AppointmentRequest.reference)
        .join(AppointmentRequest, AppointmentRequest.id == RequestDocument.request_id)
        .options(undefer(RequestDocument.content))
        .where(
            RequestDocument.id == document_id,
            AppointmentRequest.reference == reference,
            RequestDocument.scan_status == ScanStatus.CLEAN,
        )
    ).first()
    if found is None:
        raise NotFound(f"document {document_id}")
    document, ref = found
    opened = _opened(document, ref, storage)
    if action is not None:
        trail.record(
            session,
            action=action,
            actor=actor,
            request_id=document.request_id,
            detail=describe(opened),
        )
    return opened


def describe(opened: OpenedDocument) -> str:
    """What the audit trail says of an opened document: its id and kind, never its name."""
    return f"document {opened.id}: {opened.kind}"


def clean_documents_for_export(
    session: Session, *, request_id: int, storage: Storage
) -> list[OpenedDocument]:
    """Every clean document of a request with its bytes, oldest first (the FHIR bundle)."""
    rows = session.execute(
        select(RequestDocument, AppointmentRequest.reference)
        .join(AppointmentRequest, AppointmentRequest.id == RequestDocument.request_id)
        .options(undefer(RequestDocument.content))
        .where(
            RequestDocument.request_id == request_id,
            RequestDocument.scan_status == ScanStatus.CLEAN,
        )
        .order_by(RequestDocument.id)
    ).all()
    return [_opened(d, ref, storage) for d, ref in rows]


def _opened(document: RequestDocument, reference: str, storage: Storage) -> OpenedDocument:
    return OpenedDocument(
        id=document.id,
        request_id=document.request_id,
        reference=reference,
        kind=DocumentKind(document.kind),
        content_type=document.content_type,
        received_at=document.received_at,
        content=storage.get(document),
    )


def scan_held(session: Session, *, scanner: Scanner, storage: Storage, now: datetime) -> dict:
    """Scan every document still waiting for an answer from clamd (it was stopped, or
    timed out, when the file arrived). Returns counts by outcome."""
    counts = {status.value: 0 for status in ScanStatus}
    held = session.scalars(
        select(RequestDocument)
        .options(undefer(RequestDocument.content))
        .where(RequestDocument.scan_status == ScanStatus.PENDING)
        .order_by(RequestDocument.id)
    ).all()
    for document in held:
        result = scanner(storage.get(document))
        status = _STATUS_OF[result.verdict]
        metrics.count_document_scanned(status)
        counts[status.value] += 1
        if status == ScanStatus.PENDING:
            continue
        document.scan_status = status
        document.scan_detail = result.detail
        document.scanned_at = now
        trail.record(
            session,
            action=AuditAction.DOCUMENT_SCANNED,
            request_id=document.request_id,
            to_value=status.value,
            detail=f"document {document.id}" + (f", {result.detail}" if result.detail else ""),
        )
        if status == ScanStatus.CLEAN:
            _mark_added(session, document.request_id, now)
    session.flush()
    return counts


def remove_for_requests(session: Session, *, request_ids: list[int], storage: Storage) -> int:
    """Retention: every document of these requests, bytes and all. Returns how many."""
    if not request_ids:
        return 0
    keys = session.scalars(
        select(RequestDocument.storage_key).where(RequestDocument.request_id.in_(request_ids))
    ).all()
    removed = session.execute(
        delete(RequestDocument).where(RequestDocument.request_id.in_(request_ids))
    ).rowcount
    storage.remove(keys)
    return removed or 0


def remove_orphan_files(session: Session, *, storage: Storage, older_than: timedelta) -> int:
    """Files under RECORDS_PATH that no row names (their upload never committed: a worker
    killed mid-request), once older than ``older_than``. Returns how many were removed."""
    if storage.path is None or not storage.path.is_dir():
        return 0
    known = set(
        session.scalars(
            select(RequestDocument.storage_key).where(RequestDocument.storage_key.is_not(None))
        )
    )
    cutoff = datetime.now().timestamp() - older_than.total_seconds()
    removed = 0
    for entry in storage.path.iterdir():
        name = entry.name.removeprefix(".").removesuffix(".partial")
        if name in known or entry.stat().st_mtime > cutoff:
            continue
        entry.unlink(missing_ok=True)
        removed += 1
    return removed
