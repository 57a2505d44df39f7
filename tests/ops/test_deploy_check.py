import os

from app.ops.deploy_check import (
    EXAMPLE_FHIR_SYSTEM_BASE,
    SHIPPED_NGINX_PROXY_COUNT,
    deploy_warnings,
    unsafe_settings,
)
from tests.conftest import make_test_app
from tests.ops.test_serving import load_gunicorn_conf
from tests.support.databases import ROOT

SAFE = {
    "DEBUG": False,
    "TESTING": False,
    "SECRET_KEY": "x" * 48,
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://intake@db/intake?sslmode=verify-full",
    "DEPLOY_HOSTS": 2,
    "SESSION_COOKIE_SECURE": True,
    "WTF_CSRF_ENABLED": True,
    "HSTS_ENABLED": True,
    "RATELIMIT_ENABLED": True,
    "TRUSTED_PROXY_COUNT": 1,
    "TRUSTED_PROXIES": "127.0.0.1",
    "RATELIMIT_STORAGE_URI": "rediss://redis:6379/0",
    "SESSION_COOKIE_NAME": "__Host-session",
    "AUDIT_RETENTION_YEARS": 6,
    "AUDIT_HASH_KEY": "a" * 48,
    "WEBAUTHN_RP_ID": "intake.example.org",
    "WEBAUTHN_ORIGIN": "https://intake.example.org",
}
PRODUCTION_ENV = {
    "APP_ENV": "production",
    "GUNICORN_WORKERS": "4",
    "GUNICORN_QUICK_BIND": "10.0.1.20:8010",
    "PROMETHEUS_MULTIPROC_DIR": "/run/intake-metrics",
}


def problems(environ=PRODUCTION_ENV, **changes):
    return unsafe_settings({**SAFE, **changes}, environ)


def test_a_safe_production_setup_has_no_problems():
    assert problems() == []


def test_each_unsafe_setting_is_named():
    assert any("Debug" in p for p in problems(DEBUG=True))
    assert any("SECRET_KEY is not set" in p for p in problems(SECRET_KEY=None))
    assert any("SECRET_KEY is weak" in p for p in problems(SECRET_KEY="short"))
    assert any(
        "SECRET_KEY is weak" in p for p in problems(SECRET_KEY="development-only-not-secret")
    )
    assert any("SQLite" in p for p in problems(SQLALCHEMY_DATABASE_URI="sqlite:////srv/intake.db"))
    assert any("SESSION_COOKIE_SECURE" in p for p in problems(SESSION_COOKIE_SECURE=False))
    assert any("process memory" in p for p in problems(RATELIMIT_STORAGE_URI="memory://"))
    assert any("RATELIMIT_ENABLED" in p for p in problems(RATELIMIT_ENABLED=False))
    assert any("HSTS" in p for p in problems(HSTS_ENABLED=False))
    assert any("APP_ENV" in p for p in problems(environ={"GUNICORN_WORKERS": "4"}))


def test_the_proxy_count_is_the_one_the_shipped_nginx_implies():
    assert any("TRUSTED_PROXY_COUNT is 0" in p for p in problems(TRUSTED_PROXY_COUNT=0))
    assert any("TRUSTED_PROXY_COUNT is 2" in p for p in problems(TRUSTED_PROXY_COUNT=2))


def test_the_shipped_nginx_sends_exactly_one_address():
    # What SHIPPED_NGINX_PROXY_COUNT says of deploy/nginx.conf: X-Forwarded-For is set to
    # the address nginx saw (never $proxy_add_x_forwarded_for, which appends to the client's).
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert SHIPPED_NGINX_PROXY_COUNT == 1
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "proxy_add_x_forwarded_for" not in conf


def test_memory_rate_limits_are_fine_for_one_worker_on_one_host():
    single = {"APP_ENV": "production", "GUNICORN_WORKERS": "1"}
    assert problems(single, RATELIMIT_STORAGE_URI="memory://", DEPLOY_HOSTS=1) == []


def test_sqlite_is_fine_on_one_host():
    assert problems(SQLALCHEMY_DATABASE_URI="sqlite:////srv/intake.db", DEPLOY_HOSTS=1) == []


def test_the_command_exits_non_zero_and_lists_problems(database_url):
    app = make_test_app(database_url, SESSION_COOKIE_SECURE=False)
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 1
    assert "UNSAFE: SESSION_COOKIE_SECURE" in result.output


def test_the_command_exits_zero_when_all_is_safe(database_url, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("SECRET_KEY", SAFE["SECRET_KEY"])
    monkeypatch.setenv("DATABASE_URL", database_url)
    settings = {k: v for k, v in SAFE.items() if "DATABASE" not in k}
    app = make_test_app(database_url, **{**settings, "DEPLOY_HOSTS": 1})
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 0, result.output
    assert "No unsafe settings found." in result.output
    # The test app has no SMTP relay and the example FHIR base: warned, still exit 0.
    assert "WARNING: SMTP_HOST is not set" in result.output
    assert "WARNING: FHIR_SYSTEM_BASE is still the example" in result.output
    # Who may read /metrics, said whatever else is found; no directory for the counts.
    assert (
        "METRICS: /metrics answers scrapes from 127.0.0.1, ::1 (no bearer token set); "
        "anything else gets a 404." in result.output
    )
    assert "WARNING: PROMETHEUS_MULTIPROC_DIR is not set" in result.output


def test_who_may_read_the_metrics_is_said_and_an_open_door_is_unsafe():
    from app.ops.deploy_check import metrics_access

    configured = {"METRICS_ALLOWED_NETWORKS": "10.0.5.7", "METRICS_BEARER_TOKEN": "t" * 40}
    assert metrics_access(configured) == (
        "/metrics answers scrapes from 10.0.5.7 or with the bearer token "
        "METRICS_BEARER_TOKEN; anything else gets a 404."
    )
    assert problems(**configured) == []
    assert any("METRICS_BEARER_TOKEN is shorter" in p for p in problems(METRICS_BEARER_TOKEN="abc"))
    for everyone in ("0.0.0.0/0", "10.0.5.7, ::/0"):
        found = problems(METRICS_ALLOWED_NETWORKS=everyone)
        assert any("lets every address read /metrics" in p for p in found)


def test_no_mail_relay_and_the_example_fhir_base_are_warned_about_in_production():
    configured = {"SMTP_HOST": "smtp.center.org", "FHIR_SYSTEM_BASE": "https://fhir.center.org"}
    assert deploy_warnings({**SAFE, **configured}, PRODUCTION_ENV) == []
    no_relay = deploy_warnings({**SAFE, **configured, "SMTP_HOST": None}, PRODUCTION_ENV)
    assert len(no_relay) == 1 and no_relay[0].startswith("SMTP_HOST is not set")
    for example in (EXAMPLE_FHIR_SYSTEM_BASE, EXAMPLE_FHIR_SYSTEM_BASE + "/"):
        found = deploy_warnings({**SAFE, **configured, "FHIR_SYSTEM_BASE": example}, PRODUCTION_ENV)
        assert len(found) == 1 and "FHIR_SYSTEM_BASE is still the example" in found[0]
    # Warnings, not problems: neither makes the deploy unsafe.
    assert problems(SMTP_HOST=None, FHIR_SYSTEM_BASE=EXAMPLE_FHIR_SYSTEM_BASE) == []


def test_development_gets_no_deploy_warnings():
    assert deploy_warnings({**SAFE, "SMTP_HOST": None}, {"APP_ENV": "development"}) == []


def test_the_example_fhir_base_is_the_one_config_ships():
    from config import Config

    assert Config.FHIR_SYSTEM_BASE == EXAMPLE_FHIR_SYSTEM_BASE or "FHIR_SYSTEM_BASE" in os.environ


def test_the_check_counts_the_workers_gunicorn_will_start(monkeypatch):
    # With nothing set, gunicorn starts 2 per core + 1 (at most 9); the check must judge
    # the rate-limit storage by that same count, not by a default of its own.
    started = load_gunicorn_conf(monkeypatch)["workers"]
    found = problems({"APP_ENV": "production"}, RATELIMIT_STORAGE_URI="memory://", DEPLOY_HOSTS=1)
    assert any(f"with {started} workers" in p for p in found) or started == 1


def test_a_worker_count_that_is_not_a_number_is_named():
    found = problems({"APP_ENV": "production", "GUNICORN_WORKERS": "many"})
    assert any("GUNICORN_WORKERS" in p and "'many'" in p for p in found)


def test_database_and_redis_on_other_hosts_need_tls():
    plain_db = problems(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://intake@db.internal/intake")
    assert any("DATABASE_URL points at db.internal without TLS" in p for p in plain_db)
    allowing = problems(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://i@db/i?sslmode=prefer")
    assert any("DATABASE_URL" in p for p in allowing), "prefer falls back to plain text"
    plain_redis = problems(RATELIMIT_STORAGE_URI="redis://cache.internal:6379/0")
    assert any("RATELIMIT_STORAGE_URI points at cache.internal" in p for p in plain_redis)


def test_local_database_and_redis_need_no_tls():
    assert (
        problems(
            SQLALCHEMY_DATABASE_URI="postgresql+psycopg://intake@127.0.0.1:5432/intake",
            RATELIMIT_STORAGE_URI="redis://localhost:6379/0",
        )
        == []
    )
    assert (
        problems(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://intake@/intake?host=/run/pg") == []
    )


def test_cookie_name_and_audit_retention_are_checked():
    assert any("__Host-session" in p for p in problems(SESSION_COOKIE_NAME="session"))
    assert any("AUDIT_RETENTION_YEARS" in p for p in problems(AUDIT_RETENTION_YEARS=2))
    assert any("AUDIT_HASH_KEY is not set" in p for p in problems(AUDIT_HASH_KEY=None))


def test_database_timeouts_must_end_before_gunicorn_kills_the_worker():
    defaults = {"DB_POOL_TIMEOUT": 5, "DB_CONNECT_TIMEOUT": 2, "DB_STATEMENT_TIMEOUT": 5}
    assert problems(**defaults) == []
    slow = problems(**{**defaults, "DB_STATEMENT_TIMEOUT": 30})
    assert any("GUNICORN_TIMEOUT (30 s)" in p for p in slow)
    longer_timeout = {**PRODUCTION_ENV, "GUNICORN_TIMEOUT": "120"}
    assert problems(longer_timeout, **{**defaults, "DB_STATEMENT_TIMEOUT": 30}) == []


def test_production_without_a_quick_lane_is_warned_about():
    config = {"FHIR_SYSTEM_BASE": "https://center.example/fhir", "SMTP_HOST": "mail"}
    environ = {"APP_ENV": "production", "PROMETHEUS_MULTIPROC_DIR": "/run/intake-metrics"}
    assert any("GUNICORN_QUICK_BIND" in w for w in deploy_warnings(config, environ))
    quick = {**environ, "GUNICORN_QUICK_BIND": "10.0.1.20:8010"}
    assert deploy_warnings(config, quick) == []
    threaded = {**quick, "GUNICORN_THREADS": "4"}
    assert any("gthread" in w for w in deploy_warnings(config, threaded))


def test_production_needs_the_second_factor_and_passkeys_bound_to_the_site():
    assert any("STAFF_SECOND_FACTOR is off" in p for p in problems(STAFF_SECOND_FACTOR=False))
    for unset in ("WEBAUTHN_RP_ID", "WEBAUTHN_ORIGIN"):
        assert any("must both be set" in p for p in problems(**{unset: None})), unset
    for origin in ("http://intake.example.org", "https://elsewhere.example.net"):
        assert any(
            "must be https:// on WEBAUTHN_RP_ID" in p for p in problems(WEBAUTHN_ORIGIN=origin)
        ), origin
    assert problems(WEBAUTHN_ORIGIN="https://staff.intake.example.org") == []
    # Plain http only on localhost (deploy/cluster.py), which browsers treat as secure.
    assert problems(WEBAUTHN_RP_ID="localhost", WEBAUTHN_ORIGIN="http://localhost:8080") == []
    assert problems(WEBAUTHN_RP_ID="example.org", WEBAUTHN_ORIGIN="http://example.org") != []


def test_the_code_limit_cannot_be_lifted():
    assert any("STAFF_CODE_ATTEMPTS is 500" in p for p in problems(STAFF_CODE_ATTEMPTS=500))
    assert any("STAFF_CODE_ATTEMPTS is 0" in p for p in problems(STAFF_CODE_ATTEMPTS=0))
    assert any("STAFF_CODE_WAIT_MINUTES" in p for p in problems(STAFF_CODE_WAIT_MINUTES=1))


def test_the_identity_provider_must_be_complete_and_on_https():
    provider = {
        "OIDC_ISSUER": "https://login.example.org/realms/hospital",
        "OIDC_CLIENT_ID": "intake",
        "OIDC_CLIENT_SECRET": "s" * 32,
        "OIDC_SCOPES": "openid email profile",
    }
    assert problems(**provider) == []
    found = problems(
        **{**provider, "OIDC_ISSUER": "http://login.example.org", "OIDC_CLIENT_SECRET": None}
    )
    assert [p.split(" ")[0] for p in found] == ["OIDC_CLIENT_SECRET", "OIDC_ISSUER"]
    assert problems(**{**provider, "OIDC_SCOPES": "email profile"})[0].startswith("OIDC_SCOPES")


def test_the_command_lists_who_can_still_sign_in_locally(app, db, database_url):
    from app.models import StaffRole
    from tests.support.staff import make_staff

    make_staff(app, db, email="coordinator@example.org", enrol=False)
    first = make_staff(app, db, email="first.admin@example.org", role=StaffRole.ADMIN)
    gone = make_staff(app, db, email="gone@example.org", enrol=False)
    first.local_sign_in = gone.local_sign_in = True
    gone.active = False
    db.commit()
    without = app.test_cli_runner().invoke(args=["check-deploy"]).output
    assert "LOCAL SIGN-IN" not in without  # without a provider, everyone signs in here
    provider = make_test_app(database_url, OIDC_ISSUER="https://login.example.org")
    output = provider.test_cli_runner().invoke(args=["check-deploy"]).output
    assert [line for line in output.splitlines() if line.startswith("LOCAL SIGN-IN")] == [
        "LOCAL SIGN-IN: first.admin@example.org (admin)"
    ]
