"""Drafts: the answers of a request being filled in, kept on the server between the
journey's pages (issue 15).

A draft is found by its key, a random value the browser holds in its signed session
cookie; the answers never travel in the cookie or a URL, and never reach a log. Each save
that changes an answer moves its expiry ``keep`` ahead, so a person who comes back within
that time (Back, a reload, a lost connection, a closed tab) finds every answer; a page
sent again unchanged writes nothing, unless the expiry was last moved more than
``_TOUCH_AFTER`` ago. Sending keeps only the form
token and the reference until the draft expires. Everything here is in the database,
never in a worker's memory: any worker on any host answers the next page.

A draft is read and written with statements on its table, not through the ORM: a journey
reads it on each of its 14 requests, and the ORM's loading and unit of work cost about
twice the statement itself (issue 28, docs/performance.md). ``Draft`` keeps the row and
the columns changed since it was read; ``save`` writes those in one UPDATE (with the
funnel's stage, app/requests/journey_funnel.py), or nothing when nothing changed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from app.models import RequestDraft
from app.vocabulary import DeviceClass, JourneyStage, PageLanguage

# Limits on what one draft keeps of a posted field: far above any real answer (the form's
# own limits are lower and are checked on every page), so a hostile post cannot grow a row.
_MAX_TEXT = 5000
_MAX_CHOICES = 30
# A page sent again with nothing changed (Back, then Continue) writes nothing, unless the
# expiry was last moved longer ago than this: a draft then expires at most this much
# sooner than if every post moved it, against one write fewer per unchanged page.
_TOUCH_AFTER = timedelta(minutes=5)

TABLE = RequestDraft.__table__
_FIND = select(TABLE).where(
    TABLE.c.key == bindparam("key"),
    TABLE.c.expires_at > bindparam("now", type_=TABLE.c.expires_at.type),
)


@dataclass(eq=False)
class Draft:
    """One row of ``request_drafts``, and which of its columns changed since it was read."""

    id: int
    key: str
    form_token: str
    answers: dict | None
    checked_steps: list[str]
    sent_reference: str | None
    updated_at: datetime | None
    expires_at: datetime
    funnel_stage: JourneyStage | None = None
    funnel_day: date | None = None
    funnel_device: DeviceClass | None = None
    funnel_language: PageLanguage | None = None
    changed: set[str] = field(default_factory=set)

    def set(self, **values) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.changed.update(values)

    def changes(self) -> dict:
        """The changed columns and their values, forgotten once asked for."""
        values = {name: getattr(self, name) for name in self.changed}
        self.changed = set()
        return values


def find(session: Session, key: str | None, *, now: datetime) -> Draft | None:
    """The draft with this key, unless it has expired."""
    if not key or len(key) > 64:
        return None
    row = session.connection().execute(_FIND, {"key": key, "now": now}).first()
    return None if row is None else Draft(**row._mapping)


def start(
    session: Session,
    *,
    now: datetime,
    keep: timedelta,
    funnel: dict | None = None,
) -> Draft:
    """A new, empty draft, with the one-time form token its request will be sent with;
    ``funnel``: the day, device and language it is counted under."""
    values = {
        "key": secrets.token_urlsafe(32),
        "form_token": secrets.token_urlsafe(24),
        "answers": {},
        "checked_steps": [],
        "sent_reference": None,
        "updated_at": now,
        "expires_at": now + keep,
        **(funnel or {}),
    }
    result = session.connection().execute(insert(TABLE).values(values))
    return Draft(id=result.inserted_primary_key[0], **values)


def save_step(
    draft: Draft,
    *,
    step: str,
    typed: dict[str, str | list[str]],
    now: datetime,
    keep: timedelta,
) -> bool:
    """Keep what was typed on one page (valid or not: it is shown again as typed) and
    note that the page has been sent once. Returns whether anything changed (when nothing
    did, nothing is written but, now and then, the expiry). Written by ``save``."""
    answers = dict(draft.answers or {})
    answers.update({name: _bounded(value) for name, value in typed.items()})
    checked = draft.checked_steps or []
    if answers == (draft.answers or {}) and step in checked:
        if draft.updated_at is None or draft.updated_at <= now - _TOUCH_AFTER:
            touch(draft, now=now, keep=keep)
        return False
    draft.set(answers=answers)
    if step not in checked:
        draft.set(checked_steps=[*checked, step])
    touch(draft, now=now, keep=keep)
    return True


def forget_checked(draft: Draft, step: str) -> None:
    """The page's problems are not shown until it is sent again (a change elsewhere made
    it ask a new question)."""
    draft.set(checked_steps=[s for s in (draft.checked_steps or []) if s != step])


def touch(draft: Draft, *, now: datetime, keep: timedelta) -> None:
    draft.set(updated_at=now, expires_at=now + keep)


def mark_sent(draft: Draft, *, reference: str, now: datetime, keep: timedelta) -> None:
    """The request is stored: the answers go, the token and reference stay until expiry."""
    draft.set(answers=None, sent_reference=reference)
    touch(draft, now=now, keep=keep)


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete every expired draft, sent or not. Returns how many."""
    statement = delete(RequestDraft).where(RequestDraft.expires_at <= now)
    # Decided by the database alone: a draft loaded in this session is not compared in
    # Python (SQLite hands back its times without their zone).
    result = session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount or 0


def _bounded(value: str | list[str]) -> str | list[str]:
    if isinstance(value, list):
        # Each choice once (the form keeps each once too), then at most _MAX_CHOICES.
        return [_bounded_text(v) for v in list(dict.fromkeys(value))[:_MAX_CHOICES]]
    return _bounded_text(value)


def _bounded_text(value: str) -> str:
    return value[:_MAX_TEXT]
