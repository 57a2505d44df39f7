"""Keeping patient data only as long as needed, and the audit trail as long as required.

The policy (settings RETENTION_CLOSED_DAYS, RETENTION_STALE_DAYS, AUDIT_RETENTION_YEARS;
docs/security.md "Retention"):
- patient data of requests closed more than N days ago is removed (the request keeps
  its reference, status, dates and history of who did what);
- open requests nobody has touched for M days are flagged to admins in the audit trail
  (once per quiet spell), since their data would otherwise stay forever;
- audit entries are kept six years (HIPAA §164.316(b)(2)), then removed, through the one
  narrow path the database triggers allow.

``run_retention`` applies all three, idempotently, and is safe to start on every host
at once: a database lock lets one run do the work while the others find it held and stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, delete, func, select, text, update
from sqlalchemy.orm import Session

from app.audit import chain, trail
from app.models import (
    AppointmentRequest,
    AuditEvent,
    Referral,
    RequestEvent,
    RequestLink,
    RequestStatus,
)
from app.records import documents, releases
from app.records.documents import Storage
from app.requests import drafts, held_searches
from app.requests.fields import identifying_columns
from app.vocabulary import AuditAction

PURGE_ACTION = AuditAction.PURGE


def _blank(column: str) -> object:
    """What a removed answer becomes: an empty list, NULL, or "" where NULL is not allowed."""
    definition = AppointmentRequest.__table__.c[column]
    if isinstance(definition.type, JSON):
        return []
    return None if definition.nullable else ""


# What stays: the reference, status, dates and the coded answers (state, insurance type,
# contact preference...), which say nothing about who the patient is.
_BLANKED: dict[str, object] = {column: _blank(column) for column in identifying_columns()}


def purge_closed_requests(
    session: Session, *, closed_before: datetime, storage: Storage | None = None
) -> list[str]:
    """Remove the patient data of requests closed before ``closed_before``.

    Referral rows are deleted and staff notes blanked (they may name the patient); the
    records the person sent, their signed releases and their private links are deleted
    (with the files under RECORDS_PATH, ``storage``); the
    request keeps its reference, status and history of who did what, and each purge is
    recorded in the audit trail. Returns the references purged.
    """
    rows = session.execute(
        select(AppointmentRequest.id, AppointmentRequest.reference)
        .where(
            AppointmentRequest.status == RequestStatus.CLOSED,
            AppointmentRequest.closed_at < closed_before,
            AppointmentRequest.purged_at.is_(None),
        )
        .order_by(AppointmentRequest.id)
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    now = datetime.now(UTC)
    session.execute(delete(Referral).where(Referral.request_id.in_(ids)))
    documents.remove_for_requests(session, request_ids=ids, storage=storage or Storage())
    releases.remove_for_requests(session, request_ids=ids)
    session.execute(delete(RequestLink).where(RequestLink.request_id.in_(ids)))
    # The history is append-only (ORM and database triggers); removing the text of its
    # notes is the one change retention makes to it, a bulk statement the triggers allow
    # only under audit maintenance, and only when nothing but the note changes.
    with chain.maintenance(session):
        session.execute(
            update(RequestEvent)
            .where(RequestEvent.request_id.in_(ids), RequestEvent.note.is_not(None))
            .values(note=None)
        )
    for request_id in ids:
        row = session.get(AppointmentRequest, request_id)
        for column, value in _BLANKED.items():
            setattr(row, column, value)
        row.purged_at = now
        trail.record(
            session,
            action=PURGE_ACTION,
            request_id=request_id,
            detail=f"patient data removed (closed before {closed_before.date().isoformat()})",
        )
    session.flush()
    return [row.reference for row in rows]


# Any constant: the lock one retention run holds on PostgreSQL (pg_try_advisory_xact_lock).
RETENTION_LOCK_ID = 0x1A7D_0002
# Six years: HIPAA §164.316(b)(2) for documentation of required activities.
MIN_AUDIT_RETENTION_YEARS = 6


@dataclass(frozen=True, kw_only=True)
class RetentionPolicy:
    closed_days: int
    stale_days: int
    audit_years: int = MIN_AUDIT_RETENTION_YEARS


@dataclass(frozen=True, kw_only=True)
class RetentionResult:
    purged: list[str]
    flagged: list[str]
    audit_entries_removed: int
    # Unsent (or sent and kept for their reference) journey drafts past DRAFT_KEEP_HOURS.
    drafts_removed: int = 0


def take_run_lock(session: Session) -> bool:
    """True if this transaction may do the retention work; False if another run is doing
    it now. PostgreSQL: a transaction-scoped advisory lock, released at commit. SQLite:
    the command's transaction began with BEGIN IMMEDIATE, so runs already take turns,
    and the second finds nothing left to do."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return True
    return bool(
        connection.execute(
            text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": RETENTION_LOCK_ID}
        ).scalar()
    )


def run_retention(
    session: Session, *, now: datetime, policy: RetentionPolicy, storage: Storage | None = None
) -> RetentionResult | None:
    """Apply the whole policy once. None if another run holds the lock."""
    if policy.audit_years < MIN_AUDIT_RETENTION_YEARS:
        raise ValueError(f"Audit entries must be kept at least {MIN_AUDIT_RETENTION_YEARS} years")
    if not take_run_lock(session):
        return None
    storage = storage or Storage()
    purged = purge_closed_requests(
        session, closed_before=now - timedelta(days=policy.closed_days), storage=storage
    )
    # Files whose upload never committed (a worker killed mid-request): nobody can reach
    # them; after a day they go.
    documents.remove_orphan_files(session, storage=storage, older_than=timedelta(days=1))
    flagged = flag_stale_requests(session, untouched_since=now - timedelta(days=policy.stale_days))
    removed = remove_old_audit_entries(
        session,
        older_than=now - timedelta(days=365 * policy.audit_years + policy.audit_years // 4 + 1),
    )
    # Drafts expire on their own clock (DRAFT_KEEP_HOURS, set when each was saved).
    drafts_removed = drafts.purge_expired(session, now=now)
    # Queue searches (names typed by staff) go after a working day even if nobody searches.
    held_searches.purge_expired(session, now=now)
    trail.record(
        session,
        action=AuditAction.RETENTION_RUN,
        to_value=f"{len(purged)} purged",
        detail=(
            f"closed>{policy.closed_days}d purged={len(purged)};"
            f" untouched>{policy.stale_days}d flagged={len(flagged)};"
            f" audit>{policy.audit_years}y removed={removed}"
            f"; expired drafts removed={drafts_removed}"
        ),
    )
    return RetentionResult(
        purged=purged,
        flagged=flagged,
        audit_entries_removed=removed,
        drafts_removed=drafts_removed,
    )


def _last_activity():
    latest_event = (
        select(func.max(RequestEvent.created_at))
        .where(RequestEvent.request_id == AppointmentRequest.id)
        .scalar_subquery()
    )
    return func.coalesce(latest_event, AppointmentRequest.submitted_at)


def stale_requests(session: Session, *, untouched_since: datetime) -> list[tuple[int, str]]:
    """Open requests (not closed) with no history entry since ``untouched_since``."""
    rows = session.execute(
        select(AppointmentRequest.id, AppointmentRequest.reference)
        .where(
            AppointmentRequest.status != RequestStatus.CLOSED,
            AppointmentRequest.submitted_at < untouched_since,
            _last_activity() < untouched_since,
        )
        .order_by(AppointmentRequest.id)
    ).all()
    return [(row.id, row.reference) for row in rows]


def flag_stale_requests(session: Session, *, untouched_since: datetime) -> list[str]:
    """One audit entry per stale request, once per quiet spell: not again while it
    stays untouched since its last flag."""
    flagged: list[str] = []
    for request_id, reference in stale_requests(session, untouched_since=untouched_since):
        already = session.scalar(
            select(AuditEvent.id)
            .where(
                AuditEvent.request_id == request_id,
                AuditEvent.action == AuditAction.STALE_REQUEST.value,
                AuditEvent.occurred_at
                >= select(_last_activity())
                .where(AppointmentRequest.id == request_id)
                .scalar_subquery(),
            )
            .limit(1)
        )
        if already is None:
            trail.record(
                session,
                action=AuditAction.STALE_REQUEST,
                request_id=request_id,
                detail=f"open and untouched since before {untouched_since.date().isoformat()}",
            )
            flagged.append(reference)
    return flagged


def remove_old_audit_entries(session: Session, *, older_than: datetime) -> int:
    """Delete the oldest audit entries (all entries up to the newest one older than
    ``older_than``), writing down where the chain now starts so `flask audit verify`
    accepts the new first entry and nothing else."""
    last_id = session.scalar(
        select(func.max(AuditEvent.id)).where(AuditEvent.occurred_at < older_than)
    )
    if last_id is None:
        return 0
    anchor = session.scalar(select(AuditEvent.row_hash).where(AuditEvent.id == last_id))
    with chain.maintenance(session):
        removed = session.execute(delete(AuditEvent).where(AuditEvent.id <= last_id)).rowcount
    trail.record(
        session,
        action=AuditAction.AUDIT_ENTRIES_REMOVED,
        to_value=f"{removed} removed",
        # The one entry `audit verify` accepts as where the chain now starts, matched on
        # exactly these fields (chain.retention_anchor).
        detail=chain.retention_detail(removed_through=last_id, continues_from=anchor),
    )
    return removed
