"""The request owns the transaction, and this is the one place that ends it.

Every view says what it does with the database, and its session is opened accordingly
(``app/db.py``); ``tests/test_transactions.py`` walks the URL map and fails for a view
that says nothing:

- ``@commits``: the view changes something. Its session may write (on SQLite its
  transaction takes the write lock when it begins). It is committed once, here, when the
  view answers below 400, and rolled back otherwise. If the database cannot take the
  transaction (down, hung, read-only, out of connections), in the view or at the commit,
  nothing is kept and the answer is a 503: the page the view registered with
  ``if_unavailable`` (the journey: the page again as typed, saying it was not saved), or
  the site's 503 page.
- ``@read_only``: the view only reads (or touches no database). Its transactions cannot
  write; a read-only page that must leave an audit entry writes it with
  ``record_after_reading``, in a transaction of its own.

Services flush and never commit. An exception rolls back too: the session is closed at
teardown, and the error handlers discard it first.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, make_response, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from app.db import (
    DATABASE_UNAVAILABLE,
    READS,
    TRANSACTION_ATTRIBUTE,
    WRITES,
    close_session,
    discard_session,
    get_session,
    request_session,
    write_session,
)
from app.error_pages import render_error

T = TypeVar("T")

_UNAVAILABLE_PAGE = "page_if_database_unavailable"


def commits(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def committed(*args, **kwargs):
        try:
            response = make_response(view(*args, **kwargs))
            session = request_session()
            if session is not None:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
        except DATABASE_UNAVAILABLE:
            # Logged with the page's endpoint, never the statement's values (the engine hides
            # them: patient data).
            current_app.logger.warning(
                "not saved: database unavailable (%s)", request.endpoint, exc_info=True
            )
            discard_session()
            page = g.pop(_UNAVAILABLE_PAGE, None)
            return make_response(page()) if page is not None else render_error(503)
        return response

    setattr(committed, TRANSACTION_ATTRIBUTE, WRITES)
    return committed


def read_only(view: Callable[..., Any]) -> Callable[..., Any]:
    setattr(view, TRANSACTION_ATTRIBUTE, READS)
    return view


def if_unavailable(page: Callable[[], ResponseReturnValue]) -> None:
    """From here on in a ``@commits`` view: if the database cannot take the transaction,
    answer ``page()`` (a 503 saying what was not saved, with what was typed) instead of
    the site's 503 page."""
    setattr(g, _UNAVAILABLE_PAGE, page)


def record_after_reading(write: Callable[[Session], object]) -> None:
    """The audit entry of a page that only reads, in a transaction of its own.

    What the page read ends first (the request's session is closed; the next
    ``get_session()`` begins again), then ``write(session)`` runs in a session that may
    write and is committed. On SQLite, that transaction starts by taking the write lock,
    so it waits its turn behind another worker's write instead of failing ("database is
    locked"), as a transaction that read and then writes would. PostgreSQL pays one
    extra COMMIT. In a ``@commits`` view, only on a path that changed nothing (a form
    that failed its checks): anything the view had done is rolled back here.
    """
    close_session()
    with write_session() as session:
        write(session)
        session.commit()


def keep_refusal(write: Callable[[], T]) -> T:
    """What a refused attempt records about itself (its audit entries, an account's count
    of wrong codes, a private link's wrong dates of birth), kept although the view then
    answers 4xx, which ``@commits`` rolls back. A refusal changes nothing else, so what
    the request wrote so far is only that record; it is written and committed here, and
    ``write``'s result returned."""
    session = get_session()
    result = write()
    session.commit()
    return result
