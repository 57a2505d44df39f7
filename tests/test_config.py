"""Production refuses to start without its secrets, with one line naming the setting."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start_production(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    environment.update({"APP_ENV": "production", **env})
    return subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/test"}, "SECRET_KEY"),
        ({"SECRET_KEY": "k" * 40}, "DATABASE_URL"),
    ],
)
def test_production_refuses_to_start_without_a_required_setting(env, missing):
    result = _start_production(**env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert missing in lines[0]


def test_production_starts_when_both_are_set():
    result = _start_production(
        SECRET_KEY="k" * 40, DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1/test"
    )
    assert result.returncode == 0, result.stderr


def test_an_unknown_environment_name_is_refused():
    result = _start_production(APP_ENV="prod")
    assert result.returncode != 0
    assert "APP_ENV" in result.stderr.strip().splitlines()[-1]


def test_production_refuses_a_short_secret_key():
    result = _start_production(
        SECRET_KEY="k" * 31, DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1/test"
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY is too short" in lines[0] and "32" in lines[0]


def test_production_names_the_session_cookie_host_only():
    from config import ProductionConfig, TestingConfig

    assert ProductionConfig.SESSION_COOKIE_NAME == "__Host-session"
    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    assert TestingConfig.SESSION_COOKIE_NAME == "session"
