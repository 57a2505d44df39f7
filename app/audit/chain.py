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

A chain shows an entry changed, removed or inserted in the middle, but not the newest
entries removed, nor every entry: what is left still verifies. So the trail is anchored
outside the table: every committed entry's id and hash goes to the JSON log (trail.py),
and `flask audit checkpoint` appends a signed line with the newest one to a file the
database's roles cannot write. ``verify(anchors=...)`` checks the table against them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, exists, select, text
from sqlalchemy.orm import Session

from app.models import AuditEvent, EmergencyAccess
from app.vocabulary import AuditAction

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


def verify(
    session: Session, *, anchors: Mapping[int, str] | None = None, batch: int = 1000
) -> ChainReport:
    """Recompute the chain from the oldest entry kept, in id order; stop at the first
    entry whose hashes do not match.

    The oldest entry may follow entries removed by retention: its prev_hash must then be
    the one the retention run wrote down (see retention.remove_old_audit_entries).

    ``anchors`` (entry id -> row hash, from the log or checkpoints: ``read_anchors``) must
    all be found with those hashes, unless retention removed them: an entry an anchor
    names that is gone means entries were removed (the newest ones, or every one)."""
    key = _key(session)
    anchors = anchors or {}
    checked = 0
    first_id: int | None = None
    previous: str | None = None
    last_id = 0
    removed_through = 0
    anchored_seen: set[int] = set()
    while True:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not events:
            break
        for event in events:
            if first_id is None:
                first_id = event.id
                if event.prev_hash != GENESIS:
                    through = retention_anchor(session, event)
                    if through is None:
                        return ChainReport(
                            checked,
                            first_id,
                            event.id,
                            "the oldest entry does not start the chain"
                            " and no retention run removed the entries before it",
                        )
                    removed_through = through
            elif event.prev_hash != previous:
                return ChainReport(
                    checked, first_id, event.id, "an entry before it was removed or inserted"
                )
            expected = row_hash(key, prev_hash=event.prev_hash or "", content=content_of(event))
            if event.row_hash is None or not hmac.compare_digest(expected, event.row_hash):
                return ChainReport(checked, first_id, event.id, "its content was changed")
            anchored = anchors.get(event.id)
            if anchored == REUSED:
                return ChainReport(
                    checked,
                    first_id,
                    event.id,
                    "the anchors recorded it with two different hashes: it was removed and "
                    "its id given to another entry",
                )
            if anchored is not None:
                if not hmac.compare_digest(anchored, event.row_hash):
                    return ChainReport(
                        checked,
                        first_id,
                        event.id,
                        "its hash is not the one the anchor recorded (the trail was rewritten)",
                    )
                anchored_seen.add(event.id)
            previous = event.row_hash
            checked += 1
            last_id = event.id
        session.expunge_all()
    problem = _against_anchors(
        anchors, anchored_seen, head=last_id, removed_through=removed_through
    )
    if problem is not None:
        return ChainReport(checked, first_id, problem[0], problem[1])
    return ChainReport(checked, first_id)


def _against_anchors(
    anchors: Mapping[int, str], seen: set[int], *, head: int, removed_through: int
) -> tuple[int, str] | None:
    """What the anchors say is missing from a chain that verified on its own."""
    if not anchors:
        return None
    newest = max(anchors)
    if head == 0:
        return newest, f"the trail is empty, but the anchor records entries up to #{newest}"
    if newest > head:
        return newest, (
            f"the newest entries were removed: the trail ends at #{head}, "
            f"the anchor records entries up to #{newest}"
        )
    missing = sorted(a for a in anchors if a > removed_through and a not in seen)
    if missing:
        return missing[0], f"entry #{missing[0]}, recorded by the anchor, was removed"
    return None


# The retention run's own entry (retention.remove_old_audit_entries), to the character.
_RETENTION_DETAIL = re.compile(r"entries up to #(\d+); chain continues from ([0-9a-f]{64})")
_RETENTION_COUNT = re.compile(r"\d+ removed")
_HASH = re.compile(r"[0-9a-f]{64}")
ANCHOR_PREFIX = "chain continues from "


def retention_detail(*, removed_through: int, continues_from: str) -> str:
    return f"entries up to #{removed_through}; {ANCHOR_PREFIX}{continues_from}"


def retention_anchor(session: Session, first: AuditEvent) -> int | None:
    """The last entry id retention removed, when the oldest entry kept (``first``)
    follows such a removal; None otherwise.

    Recognised only from the retention run's own entry, on exact fields: its action
    (``audit_entries_removed``, which nothing but retention writes), no staff member,
    request or address (the command line), its count, and its detail to the character,
    naming exactly this entry's prev_hash and a last removed id before this entry (it is
    this entry itself when retention removed everything older). No
    entry whose free text merely mentions the hash (a path someone asked for) counts."""
    prev_hash = first.prev_hash or ""
    if not _HASH.fullmatch(prev_hash):
        return None
    candidates = session.execute(
        select(AuditEvent.id, AuditEvent.detail, AuditEvent.to_value).where(
            AuditEvent.action == AuditAction.AUDIT_ENTRIES_REMOVED.value,
            AuditEvent.staff_id.is_(None),
            AuditEvent.request_id.is_(None),
            AuditEvent.client_ip.is_(None),
            AuditEvent.from_value.is_(None),
            AuditEvent.id >= first.id,
            AuditEvent.detail.like(f"entries up to #%; {ANCHOR_PREFIX}{prev_hash}"),
        )
    ).all()
    for entry_id, detail, to_value in candidates:
        match = _RETENTION_DETAIL.fullmatch(detail or "")
        if (
            match
            and match.group(2) == prev_hash
            and int(match.group(1)) < first.id <= entry_id
            and _RETENTION_COUNT.fullmatch(to_value or "")
        ):
            return int(match.group(1))
    return None


# An id the anchors name with two different hashes. SQLite gives the id of a removed
# newest entry to the next one; an entry is never written twice, so this is a removal.
REUSED = "reused"


class AnchorError(ValueError):
    """An anchor file that cannot be trusted (a checkpoint whose signature is wrong)."""


def head(session: Session) -> tuple[int, str] | None:
    """The newest entry: its id and hash."""
    row = session.execute(
        select(AuditEvent.id, AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _checkpoint_signature(key: bytes, *, at: str, audit_id: int, hash_: str) -> str:
    sub_key = hmac.new(key, b"audit checkpoint", hashlib.sha256).digest()
    return hmac.new(sub_key, f"{at}\n{audit_id}\n{hash_}".encode(), hashlib.sha256).hexdigest()


def checkpoint_line(session: Session, *, now: datetime) -> str | None:
    """One JSON line naming the newest entry, signed with the audit key (so a line
    written by anyone without it is refused), or None for an empty trail."""
    newest = head(session)
    if newest is None:
        return None
    at = _utc_text(now)
    signature = _checkpoint_signature(_key(session), at=at, audit_id=newest[0], hash_=newest[1])
    return json.dumps(
        {"checkpoint": at, "audit_id": newest[0], "row_hash": newest[1], "signature": signature},
        separators=(",", ":"),
    )


def read_anchors(session: Session, lines: Iterable[str]) -> dict[int, str]:
    """Entry id -> hash from the app's JSON log lines (``audit entry``) and checkpoint
    lines, in any mix; every other line is skipped. A checkpoint line whose signature is
    wrong raises AnchorError."""
    key = _key(session)
    anchors: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        audit_id, hash_ = record.get("audit_id"), record.get("row_hash")
        if not isinstance(audit_id, int) or not isinstance(hash_, str):
            continue
        if "checkpoint" in record:
            expected = _checkpoint_signature(
                key, at=str(record["checkpoint"]), audit_id=audit_id, hash_=hash_
            )
            if not hmac.compare_digest(expected, str(record.get("signature", ""))):
                raise AnchorError(f"line {number}: the checkpoint's signature does not match")
        elif record.get("message") != "audit entry":
            continue
        merge_anchors(anchors, {audit_id: hash_})
    return anchors


def merge_anchors(anchors: dict[int, str], more: Mapping[int, str]) -> None:
    """Add ``more`` to ``anchors``; an id named with two different hashes is REUSED."""
    for audit_id, hash_ in more.items():
        anchors[audit_id] = hash_ if anchors.get(audit_id, hash_) == hash_ else REUSED


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
