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
    problems.extend(proxy_problems(config, environ))
    return problems


_ALL_INTERFACES = ("0.0.0.0", "[::]", "::")  # noqa: S104 (looked for, not bound)


def proxy_problems(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """A trusted-proxy count with the app port open on every interface lets anyone who
    reaches the port directly pick their own address, unless TRUSTED_PROXIES names the
    proxies."""
    count = int(config.get("TRUSTED_PROXY_COUNT") or 0)
    if count <= 0:
        return []
    problems = []
    bind = environ.get("GUNICORN_BIND", "127.0.0.1:8000")
    binds = [b.strip() for b in bind.split(",")]
    all_interfaces = any(b.startswith(_ALL_INTERFACES) or b.startswith(":") for b in binds)
    proxies = str(config.get("TRUSTED_PROXIES") or "").strip()
    if all_interfaces:
        problems.append(
            f"TRUSTED_PROXY_COUNT is {count} and GUNICORN_BIND ({bind}) listens on every "
            "interface: make sure TRUSTED_PROXIES lists only your proxies' addresses, and "
            "that only they can reach this port (bind to the proxy-facing address, or a "
            "firewall). See docs/production.md."
        )
    if not proxies:
        problems.append(
            f"TRUSTED_PROXY_COUNT is {count} but TRUSTED_PROXIES is empty: X-Forwarded-* "
            "would be believed from no one. List your proxies' addresses."
        )
    elif any(p.strip() in {"0.0.0.0/0", "::/0", "0.0.0.0"} for p in proxies.split(",")):  # noqa: S104
        problems.append(
            "TRUSTED_PROXIES trusts every address: anyone could choose the client address "
            "the rate limits and the audit trail see."
        )
    return problems


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
