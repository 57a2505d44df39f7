"""`flask check-deploy`: the settings that are unsafe for production, one line each."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

MIN_SECRET_KEY_LENGTH = 32
KNOWN_WEAK_KEYS = frozenset(
    {"development-only-not-secret", "testing-only-not-secret", "dev", "secret", "changeme"}
)


def gunicorn_workers(environ: Mapping[str, str]) -> int:
    """The worker count gunicorn.conf.py will use."""
    raw = environ.get("GUNICORN_WORKERS") or environ.get("WEB_CONCURRENCY") or "2"
    try:
        return int(raw)
    except ValueError:
        return 2


def worst_database_wait(config: Mapping[str, Any]) -> float:
    """The longest a request can wait on its database calls before it gets a 503: a pool
    checkout, a ping and a reconnect, then a statement and the commit, each cut off by the
    client-side deadline (statement timeout plus connect timeout, app/db_timeouts.py)."""
    connect = float(config.get("DB_CONNECT_TIMEOUT", 2))
    statement = float(config.get("DB_STATEMENT_TIMEOUT", 5))
    return float(config.get("DB_POOL_TIMEOUT", 5)) + 2 * connect + 2 * (statement + connect)


def unsafe_settings(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    if environ.get("APP_ENV") != "production":
        problems.append("APP_ENV is not 'production'.")
    if config.get("DEBUG"):
        problems.append("Debug mode is on: it shows code and lets anyone run code.")
    if config.get("TESTING"):
        problems.append("TESTING is on.")
    key = config.get("SECRET_KEY") or ""
    if not key:
        problems.append("SECRET_KEY is not set.")
    elif key in KNOWN_WEAK_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"SECRET_KEY is weak: use at least {MIN_SECRET_KEY_LENGTH} random characters, "
            'e.g. python -c "import secrets; print(secrets.token_urlsafe(48))".'
        )
    hosts = int(config.get("DEPLOY_HOSTS") or 1)
    workers = gunicorn_workers(environ)
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite") and hosts > 1:
        problems.append(
            f"DATABASE_URL is SQLite but DEPLOY_HOSTS is {hosts}: each host would have its "
            "own database. Use PostgreSQL."
        )
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("SESSION_COOKIE_SECURE is off: session cookies would be sent over http.")
    if not config.get("WTF_CSRF_ENABLED", True):
        problems.append("CSRF protection is off.")
    if not config.get("HSTS_ENABLED"):
        problems.append("HSTS_ENABLED is off: browsers may be downgraded to http.")
    if not config.get("RATELIMIT_ENABLED", True):
        problems.append("RATELIMIT_ENABLED is off: the form and sign-in have no rate limits.")
    elif str(config.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory") and (
        workers > 1 or hosts > 1
    ):
        problems.append(
            f"RATELIMIT_STORAGE_URI keeps counters in process memory with {workers} workers "
            f"on {hosts} host(s): each one counts separately. Use redis://."
        )
    timeout = _int(environ.get("GUNICORN_TIMEOUT"), 30)
    if worst_database_wait(config) >= timeout:
        problems.append(
            f"The database timeouts add up to {worst_database_wait(config):g} s, not less than "
            f"GUNICORN_TIMEOUT ({timeout} s): a hung database would get workers killed "
            "mid-request instead of a 503. Lower DB_POOL_TIMEOUT, DB_CONNECT_TIMEOUT or "
            "DB_STATEMENT_TIMEOUT."
        )
    return problems


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


@click.command("check-deploy")
@with_appcontext
def check_deploy_command() -> None:
    """List settings that are unsafe in production; exit 1 if there are any."""
    problems = unsafe_settings(current_app.config, os.environ)
    for problem in problems:
        click.echo(f"UNSAFE: {problem}")
    if problems:
        raise SystemExit(1)
    click.echo("No unsafe settings found.")
