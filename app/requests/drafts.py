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
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import RequestDraft

# Limits on what one draft keeps of a posted field: far above any real answer (the form's
# own limits are lower and are checked on every page), so a hostile post cannot grow a row.
_MAX_TEXT = 5000
_MAX_CHOICES = 30
# A page sent again with nothing changed (Back, then Continue) writes nothing, unless the
# expiry was last moved longer ago than this: a draft then expires at most this much
# sooner than if every post moved it, against one write fewer per unchanged page.
_TOUCH_AFTER = timedelta(minutes=5)


def find(session: Session, key: str | None, *, now: datetime) -> RequestDraft | None:
    """The draft with this key, unless it has expired."""
    if not key or len(key) > 64:
        return None
    return session.scalar(
        select(RequestDraft).where(RequestDraft.key == key, RequestDraft.expires_at > now)
    )


def start(session: Session, *, now: datetime, keep: timedelta) -> RequestDraft:
    """A new, empty draft, with the one-time form token its request will be sent with."""
    draft = RequestDraft(
        key=secrets.token_urlsafe(32),
        form_token=secrets.token_urlsafe(24),
        answers={},
        checked_steps=[],
        updated_at=now,
        expires_at=now + keep,
    )
    session.add(draft)
    session.flush()
    return draft


def save_step(
    draft: RequestDraft,
    *,
    step: str,
    typed: dict[str, str | list[str]],
    now: datetime,
    keep: timedelta,
) -> bool:
    """Keep what was typed on one page (valid or not: it is shown again as typed) and
    note that the page has been sent once. Returns whether anything changed (when nothing
    did, nothing is written but, now and then, the expiry)."""
    answers = dict(draft.answers or {})
    answers.update({name: _bounded(value) for name, value in typed.items()})
    checked = draft.checked_steps or []
    if answers == (draft.answers or {}) and step in checked:
        if draft.updated_at is None or draft.updated_at <= now - _TOUCH_AFTER:
            touch(draft, now=now, keep=keep)
        return False
    draft.answers = answers
    if step not in checked:
        draft.checked_steps = [*checked, step]
    touch(draft, now=now, keep=keep)
    return True


def forget_checked(draft: RequestDraft, step: str) -> None:
    """The page's problems are not shown until it is sent again (a change elsewhere made
    it ask a new question)."""
    draft.checked_steps = [s for s in (draft.checked_steps or []) if s != step]


def touch(draft: RequestDraft, *, now: datetime, keep: timedelta) -> None:
    draft.updated_at = now
    draft.expires_at = now + keep


def mark_sent(draft: RequestDraft, *, reference: str, now: datetime, keep: timedelta) -> None:
    """The request is stored: the answers go, the token and reference stay until expiry."""
    draft.answers = None
    draft.sent_reference = reference
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
