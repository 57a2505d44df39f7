"""The request owns the transaction, and this is the one place that ends it.

Services flush and never commit; a view that changes something carries ``@commits``,
which commits once when the view answers without an error (a redirect, or a page) and
rolls back otherwise. An exception rolls back too: the session is closed at teardown,
and the error handlers discard it first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import make_response

from app.db import get_session


def commits(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        if response.status_code < 400:
            get_session().commit()
        else:
            get_session().rollback()
        return response

    return wrapped


def record_after_reading(write: Callable[[], object]) -> None:
    """The audit entry of a page that only reads, in a transaction of its own.

    On SQLite, a transaction that has read and then writes fails at once ("database is
    locked") if another worker wrote in between; one that starts by writing waits its
    turn instead. PostgreSQL pays one extra COMMIT.
    """
    session = get_session()
    session.commit()
    write()
    session.commit()


def keep_refusal(write: Callable[[], object]) -> None:
    """What a refused attempt records about itself (its audit entries, an account's count
    of wrong codes), kept although the view then answers 4xx, which ``@commits`` rolls
    back. A refusal changes nothing else, so what the request wrote so far is only that
    record; it is written and committed here."""
    session = get_session()
    write()
    session.commit()
