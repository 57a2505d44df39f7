"""Fixtures: every test that takes ``app`` runs once on SQLite and once on PostgreSQL.

The schema is built by the Alembic migrations (so every run exercises them), once per
backend per session; each test starts from empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import create_app
from app.audit import chain
from app.models import Base
from app.serving.limits import limiter
from tests.support.databases import migrate_to_head, postgres_url, prepare_postgres

BACKENDS = ["sqlite", "postgresql"]
if os.environ.get("TEST_BACKENDS"):
    BACKENDS = os.environ["TEST_BACKENDS"].split(",")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    else:
        url = postgres_url()
        prepare_postgres(url)
    migrate_to_head(url)
    return url


@pytest.fixture
def backend(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgresql") else "sqlite"


def make_test_app(database_url: str, **overrides) -> Flask:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "testing-only-not-secret",
        "SERVER_NAME": None,
        # Cheap password hashes keep the suite fast.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 8,
        # Tests that race requests run them on threads of one app, as a gthread worker
        # would: a connection each (production's sync worker needs one, config.py).
        "DB_POOL_SIZE": 5,
        "DB_MAX_OVERFLOW": 5,
    }
    config.update(overrides)
    _limit_storage_alive()
    application = create_app(config)
    _apps_made.append(application)
    return application


def _limit_storage_alive() -> None:
    """The rate limiter is one object per process (app/serving/limits.py): production binds
    it to one application, the suite to many. Flask-Limiter keeps "the storage is
    unreachable" on the limiter, not on the storage ``init_app`` replaces, so an app made
    after a Redis-down test would count in the old in-memory fallback until a backed-off
    health check switched it to its own storage in the middle of a test. Flask-Limiter's
    private flag (pinned to 4.1 in pyproject.toml), touched here only;
    tests/ops/test_rate_limits.py checks it still means that."""
    limiter._storage_dead = False


# Every app a test makes has its connection pool closed when the test ends, so an open
# connection never outlives its test (it would surface later as a ResourceWarning, which
# the suite treats as an error, in whichever test happened to run next).
_apps_made: list[Flask] = []


@pytest.fixture(autouse=True)
def _close_pools_of_apps_made() -> Iterator[None]:
    yield
    while _apps_made:
        _apps_made.pop().extensions["db_engine"].dispose()


@pytest.fixture
def app_overrides() -> dict:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def app(database_url: str, app_overrides: dict) -> Iterator[Flask]:
    application = make_test_app(database_url, **app_overrides)
    yield application
    engine: Engine = application.extensions["db_engine"]
    _empty_tables(engine)
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        # The audit trail and history refuse DELETE unless audit maintenance is on.
        chain.switch_maintenance(conn, on=True)
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session of its own, outside any request, for arranging and checking data."""
    with Session(app.extensions["db_engine"]) as session:
        yield session


def count_rows(session: Session, table: str) -> int:
    session.rollback()
    return session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608


@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory):
    """One real clamd for the whole run (tests/support/clamd.py). Without it, outside CI,
    the tests that need it are skipped with the reason; in CI that is a failure."""
    from tests.support.clamd import clamd_missing_reason, start_clamd

    reason = clamd_missing_reason()
    if reason:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"clamd tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    server = start_clamd(tmp_path_factory.mktemp("clamd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """A real OpenID provider (oidc-provider in Node), once per session: see
    tests/support/oidc_provider.py."""
    from tests.support.oidc_provider import openid_provider

    with openid_provider(tmp_path_factory.mktemp("oidc") / "provider.log") as provider:
        yield provider
