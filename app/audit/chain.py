"""The audit trail's hash chain, its keyed hashes, and the one narrow way to remove rows.

Each audit entry carries ``row_hash = HMAC(key, prev_hash + content)``, where
``prev_hash`` is the row_hash of the entry before it (by id). Changing, removing or
inserting a row breaks the chain from that row on; `flask audit verify` finds where.
The key (AUDIT_HASH_KEY, or one derived from SECRET_KEY) lives with the app, not in the
database, so someone who can write to the database but does not hold the key cannot
rebuild a chain that verifies.

The chain must stay linear with many workers on many hosts writing at once: the entry
before a new one is read and the new one written while holding a lock that every audit
write takes: on PostgreSQL a transaction-scoped advisory lock, on SQLite the database's
write lock (the transaction is begun with BEGIN IMMEDIATE, see app/db.py). Both are held
until the transaction ends, so audit writes are serialised; they are short.

The key is attached to each database connection when it is made (app/db.py), so service
functions find it from the session they are given, without importing Flask.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, exists, select, text
from sqlalchemy.orm import Session

from app.models import AuditEvent, EmergencyAccess

GENESIS = "0" * 64
# Any constant: the lock every audit write takes on PostgreSQL (pg_advisory_xact_lock).
AUDIT_LOCK_ID = 0x1A7D_0001
KEY_INFO = "audit_hash_key"
MAINTENANCE_INFO = "audit_maintenance"


class AuditKeyMissing(RuntimeError):
    """The session's engine was not made by app.db, so it has no audit hash key."""


def derive_key(*, secret_key: str | None, audit_hash_key: str | None) -> bytes:
    """AUDIT_HASH_KEY if set, else a key derived from SECRET_KEY (so rotating SECRET_KEY
    without setting AUDIT_HASH_KEY first makes older entries fail verification)."""
    if audit_hash_key:
        return audit_hash_key.encode()
    if not secret_key:
        raise AuditKeyMissing("Set SECRET_KEY or AUDIT_HASH_KEY to write the audit trail")
    return hmac.new(secret_key.encode(), b"intake audit hash key v1", hashlib.sha256).digest()


def _key(session: Session) -> bytes:
    key = session.connection().info.get(KEY_INFO)
    if key is None:
        raise AuditKeyMissing("This database connection has no audit hash key (see app/db.py)")
    return key


def keyed_digest(session: Session, *, purpose: str, value: str) -> str:
    """A keyed hash of something we must not keep (a search text, what was typed in the
    sign-in box): equal inputs give equal digests, so an admin can ask "was this searched
    for?" by hashing the question, but the digest does not give the text back."""
    sub_key = hmac.new(_key(session), purpose.encode(), hashlib.sha256).digest()
    normalised = " ".join(value.split()).lower()
    return hmac.new(sub_key, normalised.encode(), hashlib.sha256).hexdigest()[:32]


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content_of(event: AuditEvent) -> str:
    """What the hash covers: every column but the id and the hashes themselves."""
    return json.dumps(
        [
            _utc_text(event.occurred_at),
            event.staff_id,
            event.actor_email,
            event.action,
            event.request_id,
            event.from_value,
            event.to_value,
            event.detail,
            event.client_ip,
            bool(event.emergency),
        ],
        separators=(",", ":"),
    )


def row_hash(key: bytes, *, prev_hash: str, content: str) -> str:
    return hmac.new(key, f"{prev_hash}\n{content}".encode(), hashlib.sha256).hexdigest()


def lock_chain(session: Session) -> None:
    """Serialise audit writes until this transaction ends (PostgreSQL). On SQLite the
    transaction's write lock does it, as long as it began with BEGIN IMMEDIATE or has
    already written."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": AUDIT_LOCK_ID})


def seal(session: Session, event: AuditEvent) -> None:
    """Fill in the event's place in the chain, and flag it if its staff member is on
    emergency access (one query for both). Call with the chain locked."""
    last_hash = select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)
    emergency = exists().where(EmergencyAccess.staff_id == event.staff_id)
    previous, is_emergency = session.execute(select(last_hash.scalar_subquery(), emergency)).one()
    event.emergency = event.staff_id is not None and bool(is_emergency)
    event.prev_hash = previous or GENESIS
    event.row_hash = row_hash(_key(session), prev_hash=event.prev_hash, content=content_of(event))


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_id: int | None
    # None when the chain is whole; otherwise the first entry that does not verify.
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(session: Session, *, batch: int = 1000) -> ChainReport:
    """Recompute the chain from the oldest entry kept, in id order; stop at the first
    entry whose hashes do not match.

    The oldest entry may follow entries removed by retention: its prev_hash must then be
    the one the retention run wrote down (see retention.remove_old_audit_entries)."""
    key = _key(session)
    checked = 0
    first_id: int | None = None
    previous: str | None = None
    last_id = 0
    while True:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not events:
            break
        for event in events:
            if first_id is None:
                first_id = event.id
                if event.prev_hash != GENESIS and not _is_retention_anchor(
                    session, event.prev_hash
                ):
                    return ChainReport(
                        checked,
                        first_id,
                        event.id,
                        "the oldest entry does not start the chain"
                        " and no retention run removed the entries before it",
                    )
            elif event.prev_hash != previous:
                return ChainReport(
                    checked, first_id, event.id, "an entry before it was removed or inserted"
                )
            expected = row_hash(key, prev_hash=event.prev_hash or "", content=content_of(event))
            if event.row_hash is None or not hmac.compare_digest(expected, event.row_hash):
                return ChainReport(checked, first_id, event.id, "its content was changed")
            previous = event.row_hash
            checked += 1
            last_id = event.id
        session.expunge_all()
    return ChainReport(checked, first_id)


ANCHOR_PREFIX = "chain continues from "


def _is_retention_anchor(session: Session, prev_hash: str | None) -> bool:
    if not prev_hash:
        return False
    return (
        session.scalar(
            select(AuditEvent.id)
            .where(AuditEvent.detail.like(f"%{ANCHOR_PREFIX}{prev_hash}%"))
            .limit(1)
        )
        is not None
    )


@contextmanager
def maintenance(session: Session) -> Iterator[None]:
    """Inside this block (and this transaction only) the database triggers let audit rows
    be deleted and history notes be blanked. Retention's one way in; see the 0006
    migration. Not a privilege: the hash chain is what shows misuse."""
    connection = session.connection()
    switch_maintenance(connection, on=True)
    try:
        yield
    finally:
        switch_maintenance(connection, on=False)


def switch_maintenance(connection: Connection, *, on: bool) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT set_config('intake.audit_maintenance', :v, true)"),
            {"v": "on" if on else "off"},
        )
    else:
        flag = connection.info.get(MAINTENANCE_INFO)
        if flag is not None:
            flag[0] = on


def install_on_sqlite_connection(dbapi_connection, connection_info: dict) -> None:
    """Register the function the SQLite triggers ask: "is audit maintenance on?"."""
    flag = [False]
    connection_info[MAINTENANCE_INFO] = flag
    dbapi_connection.create_function("intake_audit_maintenance", 0, lambda: int(flag[0]))
