"""Settings, read from environment variables.

Three classes: Development (the default: a SQLite file under instance/), Testing, and
Production. Production refuses to start without a real SECRET_KEY and DATABASE_URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


# Signed cookies and the audit trail's keys are only as strong as this (ASVS 5.0 V11).
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names the variable."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    return raw.lower() in {"1", "true", "yes", "on"}


class Config:
    # Facts shown to the public; the defaults are the seed's.
    CENTER_NAME = _env("CENTER_NAME", "Moffitt Cancer Center")
    PROGRAM_NAME = _env("PROGRAM_NAME", "Don & Erika Wallace Comprehensive Breast Program")
    CENTER_PHONE = _env("CENTER_PHONE", "1-888-663-3488")
    # Business days within which intake promises to call back.
    REPLY_BUSINESS_DAYS = _env_int("REPLY_BUSINESS_DAYS", 2)
    # When the center calls people back, shown on the confirmation with the number it
    # calls from (CENTER_CALLBACK_PHONE).
    CALLBACK_HOURS = _env("CALLBACK_HOURS", "Monday to Friday, 8 a.m. to 5 p.m. Eastern time")
    # The same hours as the Spanish pages say them (a setting, not the catalog: the hours
    # are the center's, and change with it).
    CALLBACK_HOURS_ES = _env(
        "CALLBACK_HOURS_ES", "de lunes a viernes, de 8 a. m. a 5 p. m., hora del este"
    )
    # How long the answers of an unsent request are kept between the journey's pages
    # (each page sent moves it ahead); then `flask intake purge-drafts` removes them.
    DRAFT_KEEP_HOURS = _env_int("DRAFT_KEEP_HOURS", 24)
    # The day the information page's facts were last checked against the sources
    # (YYYY-MM-DD); the page says so.
    INFORMATION_REVIEWED = _env("INFORMATION_REVIEWED", "2026-11-20")
    # The business clock (app/requests/business_clock.py): the center's zone, opening
    # hours and days, and the dates it is closed beyond US federal holidays. Every time
    # staff see is shown in this zone; reply-due times count only these hours.
    CENTER_TIMEZONE = _env("CENTER_TIMEZONE", "America/New_York")
    BUSINESS_HOURS = _env("BUSINESS_HOURS", "08:00-17:00")
    BUSINESS_DAYS = _env("BUSINESS_DAYS", "mon,tue,wed,thu,fri")
    CENTER_CLOSURES = _env("CENTER_CLOSURES", "")

    SECRET_KEY = _env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'intake.sqlite3'}")
    # The connection budget (docs/operations.md): a request holds one connection, so a
    # worker needs one per thread (a sync worker: one), and every process the app runs as
    # (gunicorn workers on every host, e-mail workers, commands) must fit the server's
    # max_connections together; `flask check-deploy` adds them up. Five per worker (the
    # old default) let two hosts' idle workers hold connections the busy ones needed:
    # 41 % of requests got 503 (issue 25).
    DB_POOL_SIZE = _env_int("DB_POOL_SIZE", _env_int("GUNICORN_THREADS", 1))
    DB_MAX_OVERFLOW = _env_int("DB_MAX_OVERFLOW", 0)
    DB_POOL_TIMEOUT = _env_int("DB_POOL_TIMEOUT", 5)
    # "queue": each process keeps up to DB_POOL_SIZE connections; "none": a connection per
    # request, closed after it (SQLAlchemy's NullPool), for a PgBouncer in front of
    # PostgreSQL that does the pooling (docs/production.md).
    DB_POOL = _env("DB_POOL", "queue")
    # A connection idle this long is closed by the server (PostgreSQL's
    # idle_session_timeout), so idle workers give theirs back; the next request opens a
    # new one (a few milliseconds). 0: never.
    DB_IDLE_SECONDS = _env_int("DB_IDLE_SECONDS", 300)
    # Every wait on PostgreSQL has a deadline (app/db_timeouts.py), so a hung database
    # costs a request seconds and a 503, never a worker killed at GUNICORN_TIMEOUT (30 s)
    # with the request lost. Seconds. Connecting (libpq's connect_timeout, at least 2):
    DB_CONNECT_TIMEOUT = _env_int("DB_CONNECT_TIMEOUT", 2)
    # One statement (PostgreSQL's statement_timeout; the client gives up after this plus
    # DB_CONNECT_TIMEOUT when the server does not answer at all). Our slowest statement, a
    # queue page, takes milliseconds.
    DB_STATEMENT_TIMEOUT = _env_int("DB_STATEMENT_TIMEOUT", 5)
    # Waiting for a row lock (PostgreSQL's lock_timeout), such as two staff claiming at once.
    DB_LOCK_TIMEOUT = _env_int("DB_LOCK_TIMEOUT", 3)

    # A whole request form is a few kilobytes; anything near this is not a person typing.
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 64 * 1024)
    MAX_FORM_MEMORY_SIZE = MAX_CONTENT_LENGTH

    WTF_CSRF_ENABLED = True
    # The form may stay open while someone gathers insurance details; the token lives as
    # long as the browser session rather than an arbitrary hour.
    WTF_CSRF_TIME_LIMIT = None

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    # "__Host-" (production's default) makes browsers accept the cookie only if it is
    # Secure, for the whole site (Path=/) and this host alone (no Domain): a sibling
    # subdomain cannot plant one. Needs HTTPS, so plain "session" elsewhere.
    SESSION_COOKIE_NAME = _env("SESSION_COOKIE_NAME", "session")
    STAFF_IDLE_MINUTES = _env_int("STAFF_IDLE_MINUTES", 15)
    # A session ends this long after sign-in however busy it is (issue 13).
    STAFF_SESSION_HOURS = _env_int("STAFF_SESSION_HOURS", 12)
    # A bulk export or an account change needs the password or a code again when the
    # last proof of identity is older than this.
    STAFF_REAUTH_MINUTES = _env_int("STAFF_REAUTH_MINUTES", 5)
    # The second factor (an authenticator app) for every staff account. On in every
    # environment by default; a test that is not about it may turn it off.
    STAFF_SECOND_FACTOR = _env_bool("STAFF_SECOND_FACTOR", True)
    # Passkeys: the relying-party id (the site's domain, e.g. intake.example.org) and the
    # origin browsers show (https://intake.example.org). Unset: taken from each request.
    WEBAUTHN_RP_ID = _env("WEBAUTHN_RP_ID")
    WEBAUTHN_ORIGIN = _env("WEBAUTHN_ORIGIN")
    # Staff sign-in through the hospital's OpenID Connect provider (issue 32). Unset
    # OIDC_ISSUER: local accounts only, as before. Set: staff sign in through the provider
    # (discovery from <issuer>/.well-known/openid-configuration), and a local password
    # works only for accounts marked for it (break-glass, the first admin).
    OIDC_ISSUER = _env("OIDC_ISSUER")
    OIDC_CLIENT_ID = _env("OIDC_CLIENT_ID")
    OIDC_CLIENT_SECRET = _env("OIDC_CLIENT_SECRET")
    OIDC_SCOPES = _env("OIDC_SCOPES", "openid email profile")
    OIDC_BUTTON_LABEL = _env("OIDC_BUTTON_LABEL", "Sign in with your hospital account")
    # A provider's second factor is proven by the token: any of these amr values, or
    # any of these acr values (comma-separated). Both empty: whatever the provider asks.
    OIDC_REQUIRED_AMR = _env("OIDC_REQUIRED_AMR", "")
    OIDC_REQUIRED_ACR = _env("OIDC_REQUIRED_ACR", "")
    # "group=role,group=role": a provider sign-in with none of the app's accounts but
    # one of these groups creates an account with that role. Empty (the default): only
    # accounts an admin made here may come in.
    OIDC_GROUP_ROLES = _env("OIDC_GROUP_ROLES", "")
    OIDC_GROUPS_CLAIM = _env("OIDC_GROUPS_CLAIM", "groups")
    # Clock difference allowed between the provider and this server, for exp and iat.
    OIDC_CLOCK_SKEW_SECONDS = _env_int("OIDC_CLOCK_SKEW_SECONDS", 60)
    # Longest wait for each call to the provider (discovery, keys, token).
    OIDC_TIMEOUT_SECONDS = _env_int("OIDC_TIMEOUT_SECONDS", 5)
    # How long the one-time link for a new account (or a reset one) stays valid.
    STAFF_LINK_HOURS = _env_int("STAFF_LINK_HOURS", 24)
    # Throttling wrong passwords and codes. No account is ever locked: an address that
    # sent this many failures for one account waits STAFF_LOCKOUT_MINUTES before it may
    # try that account again ...
    STAFF_LOCKOUT_ATTEMPTS = _env_int("STAFF_LOCKOUT_ATTEMPTS", 5)
    STAFF_LOCKOUT_MINUTES = _env_int("STAFF_LOCKOUT_MINUTES", 15)
    # ... an address that sent this many failures for any accounts waits too ...
    STAFF_ADDRESS_FAILURES = _env_int("STAFF_ADDRESS_FAILURES", 20)
    # ... and this many failures against one account from all addresses in that window is
    # a storm, recorded in the audit trail and shown to admins.
    STAFF_STORM_FAILURES = _env_int("STAFF_STORM_FAILURES", 20)
    # The center's own outgoing addresses or networks (comma-separated), each shared by a
    # whole office: from them an address may fail CENTER_ADDRESS_FAILURES times in
    # STAFF_LOCKOUT_MINUTES (instead of SIGNIN_RATE_LIMIT and STAFF_ADDRESS_FAILURES)
    # before it waits. The limits per account stay as they are.
    CENTER_NETWORKS = _env("CENTER_NETWORKS", "")
    CENTER_ADDRESS_FAILURES = _env_int("CENTER_ADDRESS_FAILURES", 200)
    # Wrong second-factor codes (app or recovery) for one account, from any address,
    # before its code step waits STAFF_CODE_WAIT_MINUTES: someone with the password
    # cannot spread guesses over many addresses (app/accounts/sign_ins.py).
    STAFF_CODE_ATTEMPTS = _env_int("STAFF_CODE_ATTEMPTS", 10)
    STAFF_CODE_WAIT_MINUTES = _env_int("STAFF_CODE_WAIT_MINUTES", 15)
    # Argon2id cost (OWASP's 19 MiB / 2 passes is the floor; this is above it).
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_KIB = _env_int("ARGON2_MEMORY_KIB", 65536)

    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    # FHIR export (docs/fhir.md): a URL the center owns, naming our identifier and code
    # systems in every bundle. Changing it changes those systems and every fullUrl.
    FHIR_SYSTEM_BASE = _env("FHIR_SYSTEM_BASE", "https://intake.example.org/fhir")

    # Audit trail and retention (issue 14, docs/security.md).
    # The key of the audit trail's hash chain and of its keyed hashes (search text, an
    # unknown sign-in's typed text). Unset: derived from SECRET_KEY; set it before ever
    # rotating SECRET_KEY, or older entries stop verifying.
    AUDIT_HASH_KEY = _env("AUDIT_HASH_KEY")
    # Patient data of requests closed this many days ago is removed by `flask intake retention`.
    RETENTION_CLOSED_DAYS = _env_int("RETENTION_CLOSED_DAYS", 180)
    # Open requests untouched this many days are flagged to admins.
    RETENTION_STALE_DAYS = _env_int("RETENTION_STALE_DAYS", 30)
    # Audit entries are kept this many years (at least 6), then removed by the same command.
    AUDIT_RETENTION_YEARS = _env_int("AUDIT_RETENTION_YEARS", 6)
    # A break-glass account may be made for at most this many hours.
    EMERGENCY_ACCESS_MAX_HOURS = _env_int("EMERGENCY_ACCESS_MAX_HOURS", 72)

    # Production and operations (issue 4).
    # How many proxies in front of the app set X-Forwarded-*; 0 trusts none of them.
    TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
    # The addresses or networks of those proxies (comma-separated). X-Forwarded-* is
    # believed only on connections from one of them; from anyone else it is ignored.
    TRUSTED_PROXIES = _env("TRUSTED_PROXIES", "127.0.0.1,::1")
    # Whether those proxies set X-Forwarded-Prefix (the app served under a path): off, a
    # client's own header passed on by the proxy would become every link's prefix.
    TRUST_FORWARDED_PREFIX = _env_bool("TRUST_FORWARDED_PREFIX", False)
    # How many hosts run the app against this database (only read by `flask check-deploy`).
    DEPLOY_HOSTS = _env_int("DEPLOY_HOSTS", 1)
    # The rest of the connection budget `flask check-deploy` adds up: e-mail worker
    # processes on all hosts together (docs/operations.md: one per host), and connections
    # kept free for commands (migrations, the retention timer, a person's `flask staff`).
    DEPLOY_OUTBOX_WORKERS = _env_int("DEPLOY_OUTBOX_WORKERS", DEPLOY_HOSTS)
    DEPLOY_CLI_CONNECTIONS = _env_int("DEPLOY_CLI_CONNECTIONS", 3)
    # Strict-Transport-Security; sent only over HTTPS and only where the site is HTTPS-only.
    HSTS_ENABLED = _env_bool("HSTS_ENABLED", False)
    # ...and for every subdomain (turn off only if a subdomain must still answer http).
    HSTS_INCLUDE_SUBDOMAINS = _env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    # Rate limits: counters in Redis in production so every worker and host shares them.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "intake")
    # (Behaviour when Redis is down, and no X-RateLimit-* headers: app/serving/limits.py.)
    # Short timeouts so an unreachable or hung Redis costs a request a fraction of a second,
    # not a hang. Milliseconds.
    REDIS_CONNECT_TIMEOUT_MS = _env_int("REDIS_CONNECT_TIMEOUT_MS", 250)
    REDIS_SOCKET_TIMEOUT_MS = _env_int("REDIS_SOCKET_TIMEOUT_MS", 250)
    RATELIMIT_STORAGE_OPTIONS = {
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_MS / 1000,
        "socket_timeout": REDIS_SOCKET_TIMEOUT_MS / 1000,
    }
    FORM_RATE_LIMIT = _env("FORM_RATE_LIMIT", "20 per hour")
    # Requests begun (the journey's first page sent without a draft) per client address.
    DRAFT_RATE_LIMIT = _env("DRAFT_RATE_LIMIT", "60 per hour")
    SIGNIN_RATE_LIMIT = _env("SIGNIN_RATE_LIMIT", "10 per 15 minutes")
    # Stopping a host: while this file exists /readyz answers 503 ("draining"), so the load
    # balancer stops sending before gunicorn is stopped (docs/operations.md). Unset: no switch.
    DRAIN_FILE = _env("DRAIN_FILE")

    # Prometheus's /metrics (issue 30, app/ops/metrics.py): answered to these addresses or
    # networks (comma-separated), or to a scrape carrying this bearer token. Anything else
    # gets a 404. Default: this machine only.
    METRICS_ALLOWED_NETWORKS = _env("METRICS_ALLOWED_NETWORKS", "127.0.0.1,::1")
    METRICS_BEARER_TOKEN = _env("METRICS_BEARER_TOKEN")

    # E-mail through the outbox (issue 18). Without SMTP_HOST nothing is sent: each message
    # is logged as "would send to <keyed hash>" and marked sent, so development needs nothing.
    SMTP_HOST = _env("SMTP_HOST")
    SMTP_PORT = _env_int("SMTP_PORT", 587)
    SMTP_USERNAME = _env("SMTP_USERNAME")
    SMTP_PASSWORD = _env("SMTP_PASSWORD")
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", True)
    # A CA bundle for a relay with a certificate from an internal CA; unset, the system's.
    SMTP_CA_FILE = _env("SMTP_CA_FILE")
    # Seconds for each SMTP conversation step; the worker's lease must outlast a whole send.
    SMTP_TIMEOUT = _env_int("SMTP_TIMEOUT", 30)
    # The From address. A shared inbox or a lock screen shows it: nothing about cancer here.
    MAIL_SENDER = _env("MAIL_SENDER", "New patient appointments <appointments@localhost>")
    # The team mailbox told of new requests (counts only); unset, no alerts are queued.
    INTAKE_MAILBOX = _env("INTAKE_MAILBOX")
    INTAKE_ALERT_MINUTES = _env_int("INTAKE_ALERT_MINUTES", 5)
    # The number the center calls people from, printed in the confirmation e-mail.
    CENTER_CALLBACK_PHONE = _env("CENTER_CALLBACK_PHONE", CENTER_PHONE)
    # Where staff reach the site; the intake alert links to its queue.
    SITE_URL = _env("SITE_URL", "http://127.0.0.1:8000")
    # Where the public reaches the site, for the private link in e-mails (issue 29);
    # unset: SITE_URL.
    PUBLIC_SITE_URL = _env("PUBLIC_SITE_URL")
    # Tries per message before it is shown to admins as failed; the wait doubles each time.
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
    OUTBOX_RETRY_SECONDS = _env_int("OUTBOX_RETRY_SECONDS", 30)
    OUTBOX_RETRY_MAX_SECONDS = _env_int("OUTBOX_RETRY_MAX_SECONDS", 3600)
    # How long a claimed message is the claiming worker's; after it, another worker may
    # take it (the first one died). Longer than any one send can take.
    OUTBOX_LEASE_SECONDS = _env_int("OUTBOX_LEASE_SECONDS", 300)
    OUTBOX_POLL_SECONDS = _env_int("OUTBOX_POLL_SECONDS", 2)
    # Messages one worker claims at once: fewer round trips to the database; the lease is
    # renewed after each message, so a slow batch is never taken over while it is worked.
    OUTBOX_BATCH_SIZE = _env_int("OUTBOX_BATCH_SIZE", 10)
    # Addresses and bodies of undelivered messages are removed after this many days.
    OUTBOX_KEEP_DAYS = _env_int("OUTBOX_KEEP_DAYS", 30)

    # After sending (issue 29): the person's private page.
    # The link keeps working this many days after the request is closed.
    PATIENT_LINK_DAYS_AFTER_CLOSING = _env_int("PATIENT_LINK_DAYS_AFTER_CLOSING", 30)
    # Wrong dates of birth for one link before it refuses answers for the minutes below;
    # and wrong answers from one address (any links) before that address must wait.
    PATIENT_LINK_ATTEMPTS = _env_int("PATIENT_LINK_ATTEMPTS", 5)
    PATIENT_LINK_LOCK_MINUTES = _env_int("PATIENT_LINK_LOCK_MINUTES", 30)
    PATIENT_CHECK_RATE_LIMIT = _env("PATIENT_CHECK_RATE_LIMIT", "20 per hour")
    # Asking for a link again (reference, date of birth, e-mail or phone) per address.
    LINK_REQUEST_RATE_LIMIT = _env("LINK_REQUEST_RATE_LIMIT", "10 per hour")
    # Records sent from the private page: at most this many megabytes a file and a request,
    # and this many files a request (the page says each limit).
    RECORDS_MAX_FILE_MB = _env_int("RECORDS_MAX_FILE_MB", 10)
    RECORDS_MAX_REQUEST_MB = _env_int("RECORDS_MAX_REQUEST_MB", 100)
    RECORDS_MAX_FILES = _env_int("RECORDS_MAX_FILES", 40)
    # Unset: the files are kept in the database, each in the transaction of its audit
    # entry. Set: a directory (on a volume ops back up and encrypt) where they are kept.
    RECORDS_PATH = _env("RECORDS_PATH")
    # clamd, which scans every file before anyone can open it: a Unix socket path (Debian's
    # clamav-daemon listens on /var/run/clamav/clamd.ctl) or host:port.
    CLAMD_ADDRESS = _env("CLAMD_ADDRESS", "/var/run/clamav/clamd.ctl")
    CLAMD_TIMEOUT = _env_int("CLAMD_TIMEOUT", 20)


class DevelopmentConfig(Config):
    # A development-only key; Production never falls back to it.
    SECRET_KEY = Config.SECRET_KEY or "development-only-not-secret"


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-only-not-secret"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = _env("TEST_DATABASE_URL", "sqlite://")
    # Cheap hashes keep the suite fast; production keeps the real cost.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 8


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    HSTS_ENABLED = _env_bool("HSTS_ENABLED", True)
    SESSION_COOKIE_NAME = _env("SESSION_COOKIE_NAME", "__Host-session")

    @classmethod
    def validate(cls) -> None:
        key = _env("SECRET_KEY")
        if not key:
            raise ConfigError("SECRET_KEY is not set: production needs a long random secret.")
        if len(key.encode()) < MIN_SECRET_KEY_BYTES:
            raise ConfigError(
                f"SECRET_KEY is too short: production needs at least {MIN_SECRET_KEY_BYTES}"
                " random bytes (python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        if not _env("DATABASE_URL"):
            raise ConfigError("DATABASE_URL is not set: production needs a database URL.")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    name = _env("APP_ENV", "development") or "development"
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}, got {name!r}") from None


def gunicorn_workers(environ: Mapping[str, str]) -> int:
    """How many worker processes gunicorn starts: GUNICORN_WORKERS, else WEB_CONCURRENCY,
    else gunicorn's rule of thumb, 2 per core plus 1, counting the cores this process may
    run on, and at most 9: a container on a large host would otherwise start a worker per
    host core, each with its own database connection.

    gunicorn.conf.py starts that many and `flask check-deploy` judges the rate-limit
    storage by it, so the two cannot disagree.
    """
    raw = environ.get("GUNICORN_WORKERS") or environ.get("WEB_CONCURRENCY")
    if raw is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return min(2 * (cores or 1) + 1, 9)
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"GUNICORN_WORKERS or WEB_CONCURRENCY must be a whole number, not {raw!r}"
        ) from None
