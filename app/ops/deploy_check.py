"""`flask check-deploy`: the settings that are unsafe for production, one line each, and
the ones that are likely mistakes but may be meant (warnings: named, exit code unchanged)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

from app.db import DATABASE_UNAVAILABLE, get_engine
from config import ConfigError, gunicorn_workers

MIN_SECRET_KEY_LENGTH = 32
KNOWN_WEAK_KEYS = frozenset(
    {"development-only-not-secret", "testing-only-not-secret", "dev", "secret", "changeme"}
)
# The proxy docs/production.md tells ops to run, deploy/nginx.conf, sets X-Forwarded-For to
# the one address that connected to it (it never appends): exactly one hop to believe.
SHIPPED_NGINX_PROXY_COUNT = 1
# config.py's default: a placeholder, not a URL the center owns.
EXAMPLE_FHIR_SYSTEM_BASE = "https://intake.example.org/fhir"


def worst_database_wait(config: Mapping[str, Any]) -> float:
    """The longest a request can wait on its database calls before it gets a 503: a pool
    checkout, a ping and a reconnect, then a statement and the commit, each cut off by the
    client-side deadline (statement timeout plus connect timeout, app/db_timeouts.py)."""
    connect = float(config.get("DB_CONNECT_TIMEOUT", 2))
    statement = float(config.get("DB_STATEMENT_TIMEOUT", 5))
    return float(config.get("DB_POOL_TIMEOUT", 5)) + 2 * connect + 2 * (statement + connect)


@dataclass(frozen=True)
class ServerLimits:
    """What the PostgreSQL server allows: ``max_connections`` less the slots it keeps for
    superusers (``superuser_reserved_connections``) and, from PostgreSQL 16, for roles
    with ``pg_use_reserved_connections`` (``reserved_connections``)."""

    max_connections: int
    reserved: int

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved


@dataclass(frozen=True)
class ConnectionBudget:
    hosts: int
    workers: int
    per_worker: int
    outbox_workers: int
    cli: int

    @property
    def web(self) -> int:
        return self.hosts * self.workers * self.per_worker

    @property
    def total(self) -> int:
        # An e-mail worker runs one thing at a time: one connection.
        return self.web + self.outbox_workers + self.cli

    def sum(self) -> str:
        return (
            f"{self.hosts} host(s) x {self.workers} workers x {self.per_worker} "
            f"(DB_POOL_SIZE + DB_MAX_OVERFLOW) + {self.outbox_workers} e-mail worker(s) + "
            f"{self.cli} for commands = {self.total}"
        )


def connection_budget(config: Mapping[str, Any], environ: Mapping[str, str]) -> ConnectionBudget:
    """The most connections the app can open at once, every process counted: gunicorn
    starts the workers on every host, each may fill its pool (a sync worker uses one)."""
    try:
        workers = gunicorn_workers(environ)
    except ConfigError:
        workers = 1
    return ConnectionBudget(
        hosts=int(config.get("DEPLOY_HOSTS") or 1),
        workers=workers,
        per_worker=int(config.get("DB_POOL_SIZE") or 1) + int(config.get("DB_MAX_OVERFLOW") or 0),
        outbox_workers=int(config.get("DEPLOY_OUTBOX_WORKERS") or 0),
        cli=int(config.get("DEPLOY_CLI_CONNECTIONS") or 0),
    )


def budget_problems(
    config: Mapping[str, Any], environ: Mapping[str, str], limits: ServerLimits | None
) -> list[str]:
    """More connections than the server gives: the workers that cannot connect answer
    503 while the others serve, so the site fails for some requests, as long as the load
    lasts, and /readyz flaps by worker (docs/operations.md)."""
    if limits is None or str(config.get("DB_POOL") or "queue") == "none":
        return []
    budget = connection_budget(config, environ)
    if budget.total <= limits.available:
        return []
    return [
        f"The app may open more database connections than the server gives: "
        f"{budget.sum()}, but max_connections is {limits.max_connections} less "
        f"{limits.reserved} reserved = {limits.available}. Raise max_connections, run "
        "fewer workers (GUNICORN_WORKERS), or put PgBouncer in front (DB_POOL=none; "
        "docs/production.md)."
    ]


def read_server_limits(engine: Engine) -> ServerLimits | None:
    """The server's connection limits; None for SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        settings = dict(
            conn.execute(
                text(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', "
                    "'superuser_reserved_connections', 'reserved_connections')"
                )
            ).all()
        )
    reserved = int(settings.get("superuser_reserved_connections", 0)) + int(
        settings.get("reserved_connections", 0)
    )
    return ServerLimits(max_connections=int(settings["max_connections"]), reserved=reserved)


def unsafe_settings(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    for check in (
        _mode_problems,
        _secret_problems,
        _scale_problems,
        _browser_problems,
        _proxy_count_problems,
        lambda c, _e: _transport_problems(c),
        _audit_problems,
        _timeout_problems,
        lambda c, _e: sign_in_problems(c),
        proxy_problems,
        lambda c, _e: metrics_problems(c),
        lambda c, _e: provider_problems(c),
    ):
        problems.extend(check(config, environ))
    return problems


def _mode_problems(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    problems = []
    if environ.get("APP_ENV") != "production":
        problems.append("APP_ENV is not 'production'.")
    if config.get("DEBUG"):
        problems.append("Debug mode is on: it shows code and lets anyone run code.")
    if config.get("TESTING"):
        problems.append("TESTING is on.")
    return problems


def _secret_problems(config: Mapping[str, Any], _environ: Mapping[str, str]) -> list[str]:
    key = config.get("SECRET_KEY") or ""
    if not key:
        return ["SECRET_KEY is not set."]
    if key in KNOWN_WEAK_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        return [
            f"SECRET_KEY is weak: use at least {MIN_SECRET_KEY_LENGTH} random characters, "
            'e.g. python -c "import secrets; print(secrets.token_urlsafe(48))".'
        ]
    return []


def _scale_problems(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """What several workers or hosts must share: the database and the rate limits."""
    problems = []
    hosts = int(config.get("DEPLOY_HOSTS") or 1)
    try:
        workers = gunicorn_workers(environ)
    except ConfigError as error:
        problems.append(f"{error}.")
        workers = 1
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite") and hosts > 1:
        problems.append(
            f"DATABASE_URL is SQLite but DEPLOY_HOSTS is {hosts}: each host would have its "
            "own database. Use PostgreSQL."
        )
    if not config.get("RATELIMIT_ENABLED", True):
        problems.append("RATELIMIT_ENABLED is off: the form and sign-in have no rate limits.")
    elif str(config.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory") and (
        workers > 1 or hosts > 1
    ):
        problems.append(
            f"RATELIMIT_STORAGE_URI keeps counters in process memory with {workers} workers "
            f"on {hosts} host(s): each one counts separately. Use redis://."
        )
    return problems


def _browser_problems(config: Mapping[str, Any], _environ: Mapping[str, str]) -> list[str]:
    """What keeps a browser's session and forms safe."""
    problems = []
    if not config.get("SESSION_COOKIE_SECURE"):
        problems.append("SESSION_COOKIE_SECURE is off: session cookies would be sent over http.")
    if not config.get("WTF_CSRF_ENABLED", True):
        problems.append("CSRF protection is off.")
    if not config.get("HSTS_ENABLED"):
        problems.append("HSTS_ENABLED is off: browsers may be downgraded to http.")
    name = str(config.get("SESSION_COOKIE_NAME") or "session")
    if not name.startswith("__Host-"):
        problems.append(
            f"SESSION_COOKIE_NAME is {name!r}: use '__Host-session' so the cookie is bound "
            "to this host over HTTPS."
        )
    return problems


def _proxy_count_problems(config: Mapping[str, Any], _environ: Mapping[str, str]) -> list[str]:
    proxies = int(config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies == 0:
        return [
            "TRUSTED_PROXY_COUNT is 0: behind the shipped nginx (deploy/nginx.conf) every "
            f"client would have nginx's address and share one rate limit. Set it to "
            f"{SHIPPED_NGINX_PROXY_COUNT}."
        ]
    if proxies != SHIPPED_NGINX_PROXY_COUNT:
        return [
            f"TRUSTED_PROXY_COUNT is {proxies}, but the shipped nginx (deploy/nginx.conf) is "
            f"{SHIPPED_NGINX_PROXY_COUNT} proxy and sends one address: the app would ignore "
            "it and every client would have nginx's address. Set it to "
            f"{SHIPPED_NGINX_PROXY_COUNT}."
        ]
    return []


def _audit_problems(config: Mapping[str, Any], _environ: Mapping[str, str]) -> list[str]:
    problems = []
    audit_key = config.get("AUDIT_HASH_KEY") or ""
    if len(audit_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            "AUDIT_HASH_KEY is not set (or under 32 characters): the audit trail's hash "
            "chain would hang on SECRET_KEY, and rotating it would break `flask audit verify`."
        )
    if int(config.get("AUDIT_RETENTION_YEARS") or 6) < 6:
        problems.append("AUDIT_RETENTION_YEARS is under 6: HIPAA asks for six years.")
    return problems


def _timeout_problems(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    timeout = _int(environ.get("GUNICORN_TIMEOUT"), 30)
    if worst_database_wait(config) >= timeout:
        return [
            f"The database timeouts add up to {worst_database_wait(config):g} s, not less than "
            f"GUNICORN_TIMEOUT ({timeout} s): a hung database would get workers killed "
            "mid-request instead of a 503. Lower DB_POOL_TIMEOUT, DB_CONNECT_TIMEOUT or "
            "DB_STATEMENT_TIMEOUT."
        ]
    return []


# Above this many wrong codes per account before a wait, guessing a code gets cheap: at 20
# per 15 minutes an even chance still takes some 3,000 hours.
MAX_CODE_ATTEMPTS = 20


def sign_in_problems(config: Mapping[str, Any]) -> list[str]:
    """Staff sign-in: two factors, passkeys bound to the site, a per-account code limit."""
    problems: list[str] = []
    if not config.get("STAFF_SECOND_FACTOR", True):
        problems.append(
            "STAFF_SECOND_FACTOR is off: a password alone would open patient data. Turn it on."
        )
    rp_id = str(config.get("WEBAUTHN_RP_ID") or "").strip().lower()
    origin = str(config.get("WEBAUTHN_ORIGIN") or "").strip().lower()
    if not rp_id or not origin:
        problems.append(
            "WEBAUTHN_RP_ID and WEBAUTHN_ORIGIN must both be set (the site's domain, and "
            "https:// with it): unset, passkeys trust the Host header each request brings."
        )
    else:
        host = urlsplit(origin).hostname or ""
        # Browsers allow passkeys on https, and on http only at localhost (a test cluster).
        secure = origin.startswith("https://") or host == rp_id == "localhost"
        if not secure or not (host == rp_id or host.endswith("." + rp_id)):
            problems.append(
                f"WEBAUTHN_ORIGIN ({origin}) must be https:// on WEBAUTHN_RP_ID ({rp_id}) "
                "or a subdomain of it: browsers refuse passkeys otherwise."
            )
    attempts = int(config.get("STAFF_CODE_ATTEMPTS", 10))
    if not 1 <= attempts <= MAX_CODE_ATTEMPTS:
        problems.append(
            f"STAFF_CODE_ATTEMPTS is {attempts}: use 1 to {MAX_CODE_ATTEMPTS} wrong codes "
            "per account before its code step waits (10 is the default)."
        )
    if int(config.get("STAFF_CODE_WAIT_MINUTES", 15)) < 5:
        problems.append("STAFF_CODE_WAIT_MINUTES is under 5: guessing codes would be cheap.")
    return problems


_EVERYONE = frozenset({"0.0.0.0/0", "::/0"})


def metrics_access(config: Mapping[str, Any]) -> str:
    """Who may read /metrics (app/ops/metrics.py), in one line for the operator."""
    networks = [n.strip() for n in str(config.get("METRICS_ALLOWED_NETWORKS") or "").split(",")]
    networks = [n for n in networks if n]
    who = f"from {', '.join(networks)}" if networks else "from no address"
    token = (
        "or with the bearer token METRICS_BEARER_TOKEN"
        if config.get("METRICS_BEARER_TOKEN")
        else "(no bearer token set)"
    )
    return f"/metrics answers scrapes {who} {token}; anything else gets a 404."


def metrics_problems(config: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    token = config.get("METRICS_BEARER_TOKEN") or ""
    if token and len(token) < MIN_SECRET_KEY_LENGTH:
        problems.append(
            f"METRICS_BEARER_TOKEN is shorter than {MIN_SECRET_KEY_LENGTH} characters: it "
            "could be guessed. Use a long random value."
        )
    networks = {n.strip() for n in str(config.get("METRICS_ALLOWED_NETWORKS") or "").split(",")}
    if networks & _EVERYONE:
        problems.append(
            "METRICS_ALLOWED_NETWORKS lets every address read /metrics: list Prometheus's "
            "addresses only (and use METRICS_BEARER_TOKEN from elsewhere)."
        )
    return problems


_LOCAL_HOSTS = frozenset({None, "", "localhost", "127.0.0.1", "::1"})
# libpq's sslmode values that refuse a connection without TLS.
_PG_TLS_MODES = frozenset({"require", "verify-ca", "verify-full"})


def _transport_problems(config: Mapping[str, Any]) -> list[str]:
    """Patient data and rate-limit keys cross the network to the database and Redis when
    they run on other hosts: then the connection must be TLS (ASVS 5.0 V12.3)."""
    problems: list[str] = []
    database = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if database.startswith("postgres"):
        url = make_url(database)
        # A host starting with "/" is a Unix socket: local.
        local = url.host in _LOCAL_HOSTS or str(url.host).startswith("/")
        if not local and url.query.get("sslmode") not in _PG_TLS_MODES:
            problems.append(
                f"DATABASE_URL points at {url.host} without TLS: add ?sslmode=verify-full "
                "(or require)."
            )
    redis = str(config.get("RATELIMIT_STORAGE_URI") or "")
    if redis.startswith("redis://"):
        host = urlsplit(redis).hostname
        if host not in _LOCAL_HOSTS:
            problems.append(f"RATELIMIT_STORAGE_URI points at {host} without TLS: use rediss://.")
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


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def deploy_warnings(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Settings that work but are probably not what a production deploy means: said on
    their own line, without failing the check (a center may start without e-mail)."""
    if environ.get("APP_ENV") != "production":
        return []
    warnings: list[str] = []
    if not environ.get("PROMETHEUS_MULTIPROC_DIR"):
        warnings.append(
            "PROMETHEUS_MULTIPROC_DIR is not set: gunicorn counts in a temporary directory of "
            "its own, and the outbox worker's deliveries are not in /metrics. Give both the "
            "same directory, e.g. /run/intake-metrics (docs/operations.md)."
        )
    if not config.get("SMTP_HOST"):
        warnings.append(
            "SMTP_HOST is not set: no e-mail is sent. Confirmations to patients and the "
            "intake team's alerts are only logged and marked sent (docs/operations.md)."
        )
    if not environ.get("GUNICORN_QUICK_BIND", "").strip():
        warnings.append(
            "GUNICORN_QUICK_BIND is not set: with every worker waiting on a hung database, "
            "/healthz and the information page wait too. Set it and send them there "
            "(deploy/nginx.conf, docs/production.md)."
        )
    elif _int(environ.get("GUNICORN_THREADS"), 1) > 1:
        warnings.append(
            "GUNICORN_QUICK_BIND is set but GUNICORN_THREADS is above 1: gthread workers "
            "have no quick lane, so nothing answers on that port."
        )
    if str(config.get("DB_POOL") or "queue") == "none":
        warnings.append(
            "DB_POOL is none: every request opens a connection, to PgBouncer (docs/"
            "production.md). PgBouncer's pool sizes, not the app's, must fit the server's "
            "max_connections; this check cannot see them."
        )
    base = str(config.get("FHIR_SYSTEM_BASE") or "").rstrip("/")
    if base == EXAMPLE_FHIR_SYSTEM_BASE:
        warnings.append(
            f"FHIR_SYSTEM_BASE is still the example {EXAMPLE_FHIR_SYSTEM_BASE}: exported "
            "bundles would name identifier systems nobody owns. Set a URL of the center's "
            "before the first export; changing it later changes every system (docs/fhir.md)."
        )
    return warnings


def database_role_warnings(connection: Connection) -> list[str]:
    """PostgreSQL: whether the role the app connects as could cut the audit trail short
    (delete, truncate, own it or be a superuser: docs/production.md, "Database roles").
    Nothing before the tables exist."""
    row = connection.execute(
        text(
            "SELECT current_user, r.rolsuper, pg_has_role(current_user, t.tableowner, 'MEMBER'),"
            " has_table_privilege('audit_events', 'DELETE'),"
            " has_table_privilege('audit_events', 'TRUNCATE')"
            " FROM pg_roles r JOIN pg_tables t ON t.tablename = 'audit_events'"
            " AND t.schemaname = current_schema() WHERE r.rolname = current_user"
        )
    ).first()
    if row is None or not any(row[1:]):
        return []
    return [
        f"The app's database role ({row[0]}) can delete or empty the audit trail (it is a "
        "superuser, owns the tables or has DELETE/TRUNCATE): run the app as a role that can "
        "only add to and read it, and retention as another (deploy/postgresql-roles.sql)."
    ]


def _database_warnings() -> list[str]:
    if not str(current_app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgres"):
        return []
    from app.db import get_engine

    try:
        with get_engine().connect() as connection:
            return database_role_warnings(connection)
    except SQLAlchemyError:
        return ["Could not reach the database to check the app's role on the audit trail."]


def provider_problems(config: Mapping[str, Any]) -> list[str]:
    """The hospital's identity provider (OIDC_ISSUER): complete, and over HTTPS."""
    issuer = str(config.get("OIDC_ISSUER") or "")
    if not issuer:
        return []
    problems = [
        f"{name} is not set: OIDC_ISSUER needs the client registered at the provider."
        for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
        if not config.get(name)
    ]
    if not issuer.startswith("https://"):
        problems.append(f"OIDC_ISSUER ({issuer}) must be https://: its keys prove every sign-in.")
    if "openid" not in str(config.get("OIDC_SCOPES") or "").split():
        problems.append("OIDC_SCOPES must include openid: without it there is no ID token.")
    return problems


def local_sign_in_lines(config: Mapping[str, Any]) -> list[str]:
    """With OIDC_ISSUER set: which accounts can still sign in with a local password (the
    first admin, break-glass accounts), the way in when the provider is down."""
    if not config.get("OIDC_ISSUER"):
        return []
    from app.accounts.provider_accounts import local_accounts
    from app.db import get_session

    try:
        accounts = local_accounts(get_session())
    except (DATABASE_UNAVAILABLE, SQLAlchemyError) as error:
        return [f"LOCAL SIGN-IN: could not read the accounts ({type(error).__name__})"]
    if not accounts:
        return ["LOCAL SIGN-IN: none: nobody can sign in while the identity provider is down"]
    return [f"LOCAL SIGN-IN: {staff.email} ({staff.role.value})" for staff in accounts]


@click.command("check-deploy")
@with_appcontext
def check_deploy_command() -> None:
    """List settings that are unsafe in production; exit 1 if there are any. Warnings
    are listed too but do not change the exit code."""
    click.echo(f"METRICS: {metrics_access(current_app.config)}")
    for line in local_sign_in_lines(current_app.config):
        click.echo(line)
    warnings = deploy_warnings(current_app.config, os.environ)
    if os.environ.get("APP_ENV") == "production":
        warnings += _database_warnings()
    for warning in warnings:
        click.echo(f"WARNING: {warning}")
    problems = unsafe_settings(current_app.config, os.environ)
    try:
        limits = read_server_limits(get_engine())
    except DATABASE_UNAVAILABLE as error:
        limits = None
        problems.append(
            f"The database did not answer ({type(error).__name__}): the connection budget "
            "could not be checked against its max_connections."
        )
    problems.extend(budget_problems(current_app.config, os.environ, limits))
    for problem in problems:
        click.echo(f"UNSAFE: {problem}")
    if problems:
        raise SystemExit(1)
    click.echo("No unsafe settings found.")
