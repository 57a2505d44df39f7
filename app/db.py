"""The database engine and the per-request session.

One engine per application. Each request gets its own Session, kept on ``g`` and closed
on teardown; the view that handles a successful POST commits once. Service functions
flush but never commit.
"""

from __future__ import annotations

import time
from pathlib import Path

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool, StaticPool

from app.audit import chain
from app.common import metrics
from app.db_timeouts import Timeouts, install_postgres_timeouts

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Errors that mean "the database cannot take this now", not "this request is wrong": down,
# restarting, hung past its timeouts, out of pooled connections, or read-only (PostgreSQL
# raises a read-only transaction as InternalError, SQLSTATE 25006; SQLite as
# OperationalError). The person is asked to send the form again; the token makes that safe.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, InternalError, PoolTimeoutError)


class MeasuredQueuePool(QueuePool):
    """SQLAlchemy's QueuePool (its public ``connect``), timed for the metrics: how long a
    checkout took, and how many gave up after DB_POOL_TIMEOUT. A sync worker never waits
    for a free connection (one request at a time); a gthread worker with more threads
    than DB_POOL_SIZE + DB_MAX_OVERFLOW does, and this is where it shows."""

    def connect(self):
        started = time.perf_counter()
        try:
            return super().connect()
        except PoolTimeoutError:
            metrics.DB_POOL_TIMEOUTS.inc()
            raise
        finally:
            metrics.DB_POOL_CHECKOUT_SECONDS.observe(time.perf_counter() - started)


def _count_connections_in_use(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _out(*_args) -> None:
        metrics.DB_POOL_IN_USE.inc()

    @event.listens_for(engine, "checkin")
    def _in(*_args) -> None:
        metrics.DB_POOL_IN_USE.dec()


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    pool_timeout: float = 5,
    timeouts: Timeouts | None = None,
) -> Engine:
    if url.startswith("sqlite"):
        return _make_sqlite_engine(url)
    timeouts = timeouts or Timeouts()
    engine = create_engine(
        url,
        # No pool_pre_ping: install_postgres_timeouts pings with a deadline of its own (a
        # ping on a hung database would otherwise wait forever).
        poolclass=MeasuredQueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        # Recycle before typical proxy/firewall idle cut-offs.
        pool_recycle=1800,
        # Database errors would otherwise quote the values (patient data) in their message.
        hide_parameters=True,
        connect_args=timeouts.connect_args(),
    )
    install_postgres_timeouts(engine, timeouts)
    _count_connections_in_use(engine)
    return engine


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder of a SQLite file URL. SQLite makes the file but not its folder,
    and on a fresh clone nothing else has made ``instance/`` before the first migration."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _make_sqlite_engine(url: str) -> Engine:
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    ensure_sqlite_directory(url)
    kwargs: dict = {
        "connect_args": {"check_same_thread": False, "timeout": 15},
        # Database errors would otherwise quote the values (patient data) in their message.
        "hide_parameters": True,
    }
    if in_memory:
        # One shared connection, or every connection would see its own empty database.
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if not in_memory:
            # WAL lets readers carry on while a writer writes; several gunicorn workers
            # share the file.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # The audit triggers ask it whether retention may remove rows (0006 migration).
        chain.install_on_sqlite_connection(dbapi_conn, _record.info)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A write transaction takes the write lock up front (BEGIN IMMEDIATE), so two
        # workers never both read and then fail to upgrade to a write ("database is
        # locked"); the busy timeout makes the second one wait its turn instead.
        if conn.get_execution_options().get("sqlite_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def init_app(app: Flask) -> None:
    engine = make_engine(
        app.config["SQLALCHEMY_DATABASE_URI"],
        pool_size=app.config["DB_POOL_SIZE"],
        max_overflow=app.config["DB_MAX_OVERFLOW"],
        pool_timeout=app.config["DB_POOL_TIMEOUT"],
        timeouts=Timeouts(
            connect=app.config["DB_CONNECT_TIMEOUT"],
            statement=app.config["DB_STATEMENT_TIMEOUT"],
            lock=app.config["DB_LOCK_TIMEOUT"],
        ),
    )
    app.extensions["db_engine"] = engine
    audit_key = chain.derive_key(
        secret_key=app.config.get("SECRET_KEY"), audit_hash_key=app.config.get("AUDIT_HASH_KEY")
    )

    @event.listens_for(engine, "connect")
    def _attach_audit_key(_dbapi_conn, connection_record) -> None:
        # Services find the audit trail's hash key on their session's connection.
        connection_record.info[chain.KEY_INFO] = audit_key

    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.extensions["db_write_sessionmaker"] = sessionmaker(
        bind=engine.execution_options(sqlite_write=True), expire_on_commit=False
    )
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    return current_app.extensions["db_engine"]


def get_session() -> Session:
    """The session for the current request (or app context), created on first use."""
    if "db_session" not in g:
        writing = request.method in _WRITE_METHODS if has_request_context() else True
        key = "db_write_sessionmaker" if writing else "db_sessionmaker"
        g.db_session = current_app.extensions[key]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def discard_session() -> None:
    """Roll back and drop the request's session after a failure, so nothing half-done
    can be committed by a later use of it. The connection may already be gone."""
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.rollback()
        session.close()
    except Exception:  # the connection is broken; the pool will replace it
        session.invalidate()
