"""Notes that arrive after their writer's session has ended.

A coordinator types a note, the idle limit passes, they press Save: the note must not be
lost. The sign-in check keeps it here (once it has made sure the post is theirs: a valid
session cookie for that account and its CSRF token), keyed to the staff member and the
request, and the request page offers it back in the note box after sign-in. It is
deleted when offered back; only the newest held note per request is kept, for at most
``KEPT_FOR``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import HeldNote
from app.requests.request_work import NOTE_MAX

# A held note is patient data: kept for a working day at most. Older ones are never
# offered back and are deleted whenever another note is held.
KEPT_FOR = timedelta(hours=12)


def hold(session: Session, *, staff_id: int, reference: str, note: str, now: datetime) -> None:
    drop(session, staff_id=staff_id, reference=reference)
    session.execute(delete(HeldNote).where(HeldNote.held_at < now - KEPT_FOR))
    session.add(HeldNote(staff_id=staff_id, reference=reference, note=note[:NOTE_MAX], held_at=now))
    session.flush()


def peek(session: Session, *, staff_id: int, reference: str, now: datetime) -> str | None:
    return session.scalar(
        select(HeldNote.note)
        .where(
            HeldNote.staff_id == staff_id,
            HeldNote.reference == reference,
            HeldNote.held_at >= now - KEPT_FOR,
        )
        .order_by(HeldNote.id.desc())
        .limit(1)
    )


def drop(session: Session, *, staff_id: int, reference: str) -> None:
    session.execute(
        delete(HeldNote).where(HeldNote.staff_id == staff_id, HeldNote.reference == reference)
    )
