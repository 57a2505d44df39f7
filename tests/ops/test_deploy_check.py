from app.ops.deploy_check import unsafe_settings
from tests.conftest import make_test_app

SAFE = {
    "DEBUG": False,
    "TESTING": False,
    "SECRET_KEY": "x" * 48,
    "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://intake@db/intake",
    "DEPLOY_HOSTS": 2,
    "SESSION_COOKIE_SECURE": True,
    "WTF_CSRF_ENABLED": True,
    "HSTS_ENABLED": True,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "redis://redis:6379/0",
}
PRODUCTION_ENV = {"APP_ENV": "production", "GUNICORN_WORKERS": "4"}


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
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("SECRET_KEY", SAFE["SECRET_KEY"])
    monkeypatch.setenv("DATABASE_URL", database_url)
    settings = {k: v for k, v in SAFE.items() if "DATABASE" not in k}
    app = make_test_app(database_url, **{**settings, "DEPLOY_HOSTS": 1})
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 0, result.output
    assert "No unsafe settings found." in result.output


def test_database_timeouts_must_end_before_gunicorn_kills_the_worker():
    defaults = {"DB_POOL_TIMEOUT": 5, "DB_CONNECT_TIMEOUT": 2, "DB_STATEMENT_TIMEOUT": 5}
    assert problems(**defaults) == []
    slow = problems(**{**defaults, "DB_STATEMENT_TIMEOUT": 30})
    assert any("GUNICORN_TIMEOUT (30 s)" in p for p in slow)
    longer_timeout = {**PRODUCTION_ENV, "GUNICORN_TIMEOUT": "120"}
    assert problems(longer_timeout, **{**defaults, "DB_STATEMENT_TIMEOUT": 30}) == []
