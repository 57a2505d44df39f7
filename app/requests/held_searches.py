"""Queue searches held server-side (issue 31).

A search may be a patient's name. It is posted, kept here for the staff member who typed
it, and answered with a redirect to the queue with ``?search=<token>``: the name is never
in an address (where the browser's history, proxies and access logs keep it) and the
results are an ordinary GET page, so Back and reload never ask to send a form again. A
token is only good for the staff member it was made for. Searches are patient data: kept
for a working day at most, and older ones are deleted whenever another is held.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import NAME_MAX, HeldSearch

KEPT_FOR = timedelta(hours=12)
TOKEN_BYTES = 12  # 16 characters in base64url: not guessable, and short in an address
TOKEN_MAX = 32


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete the searches past their time (at each new search, and in the retention run)."""
    return session.execute(delete(HeldSearch).where(HeldSearch.held_at < now - KEPT_FOR)).rowcount


def hold(session: Session, *, staff_id: int, search: str, now: datetime) -> str:
    """Keep ``search`` for ``staff_id``; return the token that stands for it."""
    purge_expired(session, now=now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(HeldSearch(staff_id=staff_id, token=token, search=search[:NAME_MAX], held_at=now))
    session.flush()
    return token


def find(session: Session, *, staff_id: int, token: str | None, now: datetime) -> str | None:
    """The search ``token`` stands for, if it is this staff member's and still kept."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return session.scalar(
        select(HeldSearch.search).where(
            HeldSearch.token == token,
            HeldSearch.staff_id == staff_id,
            HeldSearch.held_at >= now - KEPT_FOR,
        )
    )
