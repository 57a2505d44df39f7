"""Deadlines on every wait for PostgreSQL, so a hung database costs a request seconds, not
a worker.

Three layers, because each covers a case the others cannot:

- libpq's ``connect_timeout``: opening a connection (TCP, TLS, start-up, authentication).
- ``statement_timeout`` and ``lock_timeout``, set per connection in the start-up packet:
  the server cancels a statement that runs, or waits for a lock, too long, and the
  connection stays usable.
- A client-side deadline, enforced by one watchdog thread per process: when the server
  (or anything between us and it) stops answering altogether, nothing the server does can
  help; psycopg would wait on the socket forever and gunicorn would kill the worker after
  its own timeout, with the request lost. The watchdog shuts the socket down instead; the
  driver then fails with "server closed the connection", SQLAlchemy drops the connection
  from the pool, and the request answers 503.

The pre-ping that replaces dead pooled connections is done here too, under the same
deadline (SQLAlchemy's own ``pool_pre_ping`` has none).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

# How often the watchdog looks at the deadlines: the precision of every client-side timeout.
_TICK_SECONDS = 0.2


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``connect`` is whole seconds (libpq's unit; it treats 1 as 2)."""

    connect: int = 2
    statement: int = 5
    lock: int = 3
    # A connection idle this long is closed by the server (idle_session_timeout); 0: never.
    idle: int = 0

    def connect_args(self) -> dict[str, Any]:
        options = f"-c statement_timeout={self.statement * 1000} -c lock_timeout={self.lock * 1000}"
        if self.idle:
            options += f" -c idle_session_timeout={self.idle * 1000}"
        return {"connect_timeout": self.connect, "options": options}

    @property
    def client_deadline(self) -> float:
        # Longer than the server's own statement timeout, so that a database that answers
        # at all cancels the statement itself and keeps the connection; the watchdog only
        # acts when nothing answers.
        return self.statement + self.connect


class _Watchdog:
    """Deadlines of the connections waiting on the database, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[int, tuple[float, Any]] = {}
        self._pid: int | None = None

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        with self._lock:
            if self._pid != os.getpid():
                # First use, or first use in a forked worker: threads do not survive a
                # fork, and the parent's deadlines are not ours.
                self._pid = os.getpid()
                self._deadlines.clear()
                threading.Thread(target=self._run, name="db-watchdog", daemon=True).start()
            self._deadlines[id(dbapi_connection)] = (time.monotonic() + seconds, dbapi_connection)

    def disarm(self, dbapi_connection: Any) -> None:
        # Under the lock: a connection being closed must not have its (reused) file
        # descriptor shut down by a watchdog that has just found it expired.
        with self._lock:
            self._deadlines.pop(id(dbapi_connection), None)

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(_TICK_SECONDS)
            now = time.monotonic()
            with self._lock:
                expired = [key for key, (due, _) in self._deadlines.items() if due <= now]
                for key in expired:
                    _, dbapi_connection = self._deadlines.pop(key)
                    _cut(dbapi_connection)


def _cut(dbapi_connection: Any) -> None:
    """Shut the connection's socket down, so the thread blocked on it wakes with an error."""
    try:
        if dbapi_connection.closed:
            return
        fd = dbapi_connection.fileno()
    except Exception:  # noqa: BLE001 - already broken: nothing to cut
        return
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


WATCHDOG = _Watchdog()


def _dbapi(conn: Any) -> Any:
    """The driver's connection under a SQLAlchemy Connection, or None once it is gone."""
    if conn is None or conn.invalidated or conn.closed:
        return None
    return conn.connection.dbapi_connection


def install_postgres_timeouts(engine: Engine, timeouts: Timeouts) -> None:
    _ping_at_checkout(engine, timeouts)
    _deadline_on_every_wait(engine, timeouts.client_deadline)


def _ping_at_checkout(engine: Engine, timeouts: Timeouts) -> None:
    @event.listens_for(engine, "connect", named=True)
    def _fresh(connection_record, **_kw):
        # Just opened under connect_timeout: no need to ping it on this first checkout.
        connection_record.info["fresh"] = True

    @event.listens_for(engine, "checkout", named=True)
    def _ping(dbapi_connection, connection_record, **_kw):
        if connection_record.info.pop("fresh", False):
            return
        WATCHDOG.arm(dbapi_connection, timeouts.connect)
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool replaces this connection with a new one (under connect_timeout).
            raise DisconnectionError("pre-ping failed") from error
        finally:
            WATCHDOG.disarm(dbapi_connection)


def _deadline_on_every_wait(engine: Engine, statement_deadline: float) -> None:
    @event.listens_for(engine, "before_cursor_execute", named=True)
    def _statement_starts(conn, **_kw):
        if (dbapi_connection := _dbapi(conn)) is not None:
            WATCHDOG.arm(dbapi_connection, statement_deadline)

    @event.listens_for(engine, "after_cursor_execute", named=True)
    def _statement_ends(conn, **_kw):
        if (dbapi_connection := _dbapi(conn)) is not None:
            WATCHDOG.disarm(dbapi_connection)

    @event.listens_for(engine, "handle_error", named=True)
    def _statement_failed(exception_context, **_kw):
        if (dbapi_connection := _dbapi(exception_context.connection)) is not None:
            WATCHDOG.disarm(dbapi_connection)

    @event.listens_for(engine, "commit", named=True)
    @event.listens_for(engine, "rollback", named=True)
    def _transaction_ends(conn, **_kw):
        # Disarmed at checkin, which follows the end of the transaction (a Session gives its
        # connection back at commit). Code that keeps a Connection idle for longer than the
        # deadline after a commit would find it cut and get a 503: nothing here does.
        if (dbapi_connection := _dbapi(conn)) is not None:
            WATCHDOG.arm(dbapi_connection, statement_deadline)

    @event.listens_for(engine, "reset", named=True)
    def _reset(dbapi_connection, **_kw):
        # The pool rolls back a returned connection; that too waits on the server.
        WATCHDOG.arm(dbapi_connection, statement_deadline)

    for name in ("checkin", "close", "close_detached", "invalidate"):

        @event.listens_for(engine, name, named=True)
        def _done(dbapi_connection=None, **_kw):
            if dbapi_connection is not None:
                WATCHDOG.disarm(dbapi_connection)
