"""The database engine and the per-request session.

One engine per application. Each request gets its own Session, kept on ``g`` and closed
on teardown. What the session may do is what the request's view declares
(``app/transactions.py``): a view that ``@commits`` gets a session that may write (on
SQLite its transactions begin with the write lock), committed once by the decorator; a
``@read_only`` view gets one that cannot write (PostgreSQL ``READ ONLY`` transactions,
SQLite ``query_only``). Service functions flush but never commit.
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
from sqlalchemy.pool import NullPool, QueuePool, StaticPool

from app.audit import chain
from app.common import metrics
from app.db_timeouts import Timeouts, install_postgres_timeouts
from config import ConfigError

# What a view declares about its transaction: set as an attribute on the view function by
# app/transactions.py's decorators (and carried outwards by functools.wraps).
TRANSACTION_ATTRIBUTE = "db_transaction"
WRITES = "writes"
READS = "reads"
# The execution option of the engine read-only pages use (read_only_engine).
READ_ONLY = "read_only_transaction"

# Errors that mean "the database cannot take this now", not "this request is wrong": down,
# restarting, hung past its timeouts, out of pooled connections, or read-only (PostgreSQL
# raises a read-only transaction as InternalError, SQLSTATE 25006; SQLite as
# OperationalError). The person is asked to send the form again; the token makes that safe.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, InternalError, PoolTimeoutError)


# DB_POOL: "queue", each process keeps its connections (up to DB_POOL_SIZE, and
# DB_MAX_OVERFLOW more that are closed when given back); "none", each request opens one and
# closes it, for a PgBouncer that pools in front of PostgreSQL (docs/production.md).
POOLS = ("queue", "none")


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
    pool: str = "queue",
    pool_size: int = 1,
    max_overflow: int = 0,
    pool_timeout: float = 5,
    timeouts: Timeouts | None = None,
) -> Engine:
    if url.startswith("sqlite"):
        return _make_sqlite_engine(url)
    timeouts = timeouts or Timeouts()
    if pool == "none":
        pooling: dict = {"poolclass": NullPool}
    else:
        pooling = {
            "poolclass": MeasuredQueuePool,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
            # Recycle before typical proxy/firewall idle cut-offs.
            "pool_recycle": 1800,
        }
    engine = create_engine(
        url,
        # No pool_pre_ping: install_postgres_timeouts pings with a deadline of its own (a
        # ping on a hung database would otherwise wait forever).
        **pooling,
        # Database errors would otherwise quote the values (patient data) in their message.
        hide_parameters=True,
        connect_args=timeouts.connect_args(),
    )
    install_postgres_timeouts(engine, timeouts)
    _install_postgres_read_only(engine)
    _count_connections_in_use(engine)
    return engine


def _install_postgres_read_only(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # psycopg begins the transaction READ ONLY while this is True, and as the server's
        # default while it is None. Never False: that would begin READ WRITE explicitly and
        # override a database its operator set read-only (default_transaction_read_only),
        # which must refuse the write and give the 503. (SQLAlchemy's own
        # postgresql_readonly option resets it to False.) Setting it sends nothing.
        wanted = True if conn.get_execution_options().get(READ_ONLY) else None
        driver = conn.connection.dbapi_connection
        if driver.read_only is not wanted:
            driver.read_only = wanted


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
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # The audit triggers ask it whether retention may remove rows (0006 migration).
        chain.install_on_sqlite_connection(dbapi_conn, _record.info)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        options = conn.get_execution_options()
        # A page declared read-only cannot write, as on PostgreSQL (READ ONLY): a write
        # there is a mistake that must fail in the tests, not a change nobody commits.
        _set_query_only(conn, bool(options.get(READ_ONLY)))
        # A write transaction takes the write lock up front (BEGIN IMMEDIATE), so two
        # workers never both read and then fail to upgrade to a write ("database is
        # locked"); the second one waits its turn instead (_begin_immediate).
        if options.get("sqlite_write"):
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


# How long a writer asks again for SQLite's write lock itself, every fraction of a
# millisecond, before SQLite's busy handler (PRAGMA busy_timeout) takes over.
_QUICK_RETRY_SECONDS = 0.25
_BUSY_TIMEOUT_MS = 15000


def _begin_immediate(conn) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in short steps.

    SQLite's busy handler sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, so a writer
    that finds the lock taken waited several milliseconds for a lock a journey step holds
    for about one (issue 28: a tenth of the journeys a second on SQLite). This is the one
    statement here that waits for the lock (the writes after it hold it; WAL readers
    never wait for a writer), so only it is retried here, for up to a quarter of a
    second; after that, as before, the busy timeout waits and SQLAlchemy reports a lock
    still taken as the 503 it always was."""
    import sqlite3  # here: a PostgreSQL worker never loads the SQLite driver

    driver = conn.connection.dbapi_connection
    deadline = time.monotonic() + _QUICK_RETRY_SECONDS
    pause = 0.0001
    driver.execute("PRAGMA busy_timeout=0")
    try:
        while time.monotonic() < deadline:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    break
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
    finally:
        driver.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _set_query_only(conn, read_only: bool) -> None:
    # A pooled connection keeps the pragma: set it only when it changes (one statement in a
    # read page after a write page on the same connection, none otherwise).
    info = conn.connection.info
    if info.get(READ_ONLY, False) != read_only:
        conn.exec_driver_sql(f"PRAGMA query_only={int(read_only)}")
        info[READ_ONLY] = read_only


def read_only_engine(engine: Engine) -> Engine:
    """The engine as read-only pages use it: every transaction begun on it refuses
    writes (PostgreSQL READ ONLY, SQLite query_only), set when it begins, on both."""
    return engine.execution_options(**{READ_ONLY: True})


def init_app(app: Flask) -> None:
    pool = str(app.config.get("DB_POOL") or "queue")
    if pool not in POOLS:
        raise ConfigError(f"DB_POOL must be one of {', '.join(POOLS)}, not {pool!r}")
    engine = make_engine(
        app.config["SQLALCHEMY_DATABASE_URI"],
        pool=pool,
        pool_size=app.config["DB_POOL_SIZE"],
        max_overflow=app.config["DB_MAX_OVERFLOW"],
        pool_timeout=app.config["DB_POOL_TIMEOUT"],
        timeouts=Timeouts(
            connect=app.config["DB_CONNECT_TIMEOUT"],
            statement=app.config["DB_STATEMENT_TIMEOUT"],
            lock=app.config["DB_LOCK_TIMEOUT"],
            idle=app.config.get("DB_IDLE_SECONDS", 0),
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

    app.extensions["db_read_sessionmaker"] = sessionmaker(
        bind=read_only_engine(engine), expire_on_commit=False
    )
    app.extensions["db_write_sessionmaker"] = sessionmaker(
        bind=engine.execution_options(sqlite_write=True), expire_on_commit=False
    )
    app.teardown_appcontext(_close_session)


def get_engine() -> Engine:
    return current_app.extensions["db_engine"]


def get_session() -> Session:
    """The session for the current request (or app context), created on first use: one
    that may write only if the request's view says it writes."""
    if "db_session" not in g:
        key = "db_write_sessionmaker" if request_writes() else "db_read_sessionmaker"
        g.db_session = current_app.extensions[key]()
    return g.db_session


def request_writes() -> bool:
    """Whether this request may write: what its view declares (app/transactions.py).
    Outside a request (a command, a worker, a test's app context) it may."""
    if not has_request_context():
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    declared = getattr(view, TRANSACTION_ATTRIBUTE, None)
    # Undeclared (no view matched: a 404, a 405) reads only; every view declares
    # (tests/test_transactions.py walks the URL map).
    return declared == WRITES


def request_session() -> Session | None:
    """The request's session if it has one (nothing to commit or end otherwise)."""
    return g.get("db_session")


def write_session() -> Session:
    """A session of its own that may write, for a write apart from the request's own
    transaction (a read-only page's audit entry). The caller closes it."""
    return current_app.extensions["db_write_sessionmaker"]()


def close_session() -> None:
    """End the request's session here (what it read is not needed in the database any
    more); the next ``get_session()`` begins a new one."""
    _close_session(None)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except DATABASE_UNAVAILABLE:
        # The database went away after the page was made: what the session held is gone
        # with the connection, and the page (or its error page) still goes out.
        session.invalidate()


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
