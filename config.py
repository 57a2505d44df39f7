"""Settings, read from environment variables.

Three classes: Development (the default: a SQLite file under instance/), Testing, and
Production. Production refuses to start without a real SECRET_KEY and DATABASE_URL.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


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

    SECRET_KEY = _env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'intake.sqlite3'}")
    DB_POOL_SIZE = _env_int("DB_POOL_SIZE", 5)
    DB_MAX_OVERFLOW = _env_int("DB_MAX_OVERFLOW", 5)
    DB_POOL_TIMEOUT = _env_int("DB_POOL_TIMEOUT", 5)
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
    STAFF_IDLE_MINUTES = _env_int("STAFF_IDLE_MINUTES", 15)
    # Wrong passwords in a row before an account is locked, and for how long.
    STAFF_LOCKOUT_ATTEMPTS = _env_int("STAFF_LOCKOUT_ATTEMPTS", 5)
    STAFF_LOCKOUT_MINUTES = _env_int("STAFF_LOCKOUT_MINUTES", 15)
    # Argon2id cost (OWASP's 19 MiB / 2 passes is the floor; this is above it).
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_KIB = _env_int("ARGON2_MEMORY_KIB", 65536)

    LOG_LEVEL = _env("LOG_LEVEL", "INFO")

    # Production and operations (issue 4).
    # How many proxies in front of the app set X-Forwarded-*; 0 trusts none of them.
    TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
    # How many hosts run the app against this database (only read by `flask check-deploy`).
    DEPLOY_HOSTS = _env_int("DEPLOY_HOSTS", 1)
    # Strict-Transport-Security; sent only over HTTPS and only where the site is HTTPS-only.
    HSTS_ENABLED = _env_bool("HSTS_ENABLED", False)
    # Rate limits: counters in Redis in production so every worker and host shares them.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "intake")
    # A Redis outage must not take the form down: count in memory until it is back.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # Short timeouts so an unreachable or hung Redis costs a request a fraction of a second,
    # not a hang. Milliseconds.
    REDIS_CONNECT_TIMEOUT_MS = _env_int("REDIS_CONNECT_TIMEOUT_MS", 250)
    REDIS_SOCKET_TIMEOUT_MS = _env_int("REDIS_SOCKET_TIMEOUT_MS", 250)
    RATELIMIT_STORAGE_OPTIONS = {
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_MS / 1000,
        "socket_timeout": REDIS_SOCKET_TIMEOUT_MS / 1000,
    }
    # No X-RateLimit-* headers: each cost a Redis round trip; the 429 page sends Retry-After.
    RATELIMIT_HEADERS_ENABLED = False
    FORM_RATE_LIMIT = _env("FORM_RATE_LIMIT", "20 per hour")
    SIGNIN_RATE_LIMIT = _env("SIGNIN_RATE_LIMIT", "10 per 15 minutes")
    # Stopping a host: while this file exists /readyz answers 503 ("draining"), so the load
    # balancer stops sending before gunicorn is stopped (docs/operations.md). Unset: no switch.
    DRAIN_FILE = _env("DRAIN_FILE")


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

    @classmethod
    def validate(cls) -> None:
        if not _env("SECRET_KEY"):
            raise ConfigError("SECRET_KEY is not set: production needs a long random secret.")
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
