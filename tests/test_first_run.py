"""What a newcomer meets first: `make run` and `make migrate` on a fresh clone.

scripts/check-first-run.sh (run by .ci/run) does the whole thing from a clean clone; these
tests pin each piece: the database folder is made by whichever step runs first, and a
database that does not answer or a port already taken is one clear line, not a traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFLIGHT = ROOT / "scripts" / "preflight.py"


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "APP_ENV")}
    return subprocess.run(
        args, cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_alembic_by_hand_creates_the_folder_of_a_sqlite_database(tmp_path):
    database = tmp_path / "not-yet" / "instance" / "intake.sqlite3"
    result = _run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], DATABASE_URL=f"sqlite:///{database}"
    )
    assert result.returncode == 0, result.stderr
    assert database.is_file()


def test_preflight_passes_and_creates_the_folder_for_a_fresh_sqlite_default(tmp_path):
    database = tmp_path / "instance" / "intake.sqlite3"
    result = _run([sys.executable, str(PREFLIGHT)], DATABASE_URL=f"sqlite:///{database}")
    assert result.returncode == 0, result.stderr
    assert database.parent.is_dir()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_database_is_one_line_naming_it_without_its_password():
    url = f"postgresql+psycopg://someone:hunter2secret@127.0.0.1:{_closed_port()}/intake"
    result = _run([sys.executable, str(PREFLIGHT)], DATABASE_URL=url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Cannot reach the database postgresql+psycopg://someone:***@")
    assert "DATABASE_URL" in lines[0]
    assert "hunter2secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_one_line_naming_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(
            [sys.executable, str(PREFLIGHT), "--bind", f"127.0.0.1:{port}"],
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Port {port} on 127.0.0.1 is already in use (Address already in use): stop what runs "
        f"there, or pick another port, for example PORT={port + 100} make run"
    ]


def test_a_bad_configuration_is_one_line():
    result = _run([sys.executable, str(PREFLIGHT)], APP_ENV="bogus")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: APP_ENV must be one of development, testing, production, got 'bogus'"
    ]


def test_make_run_takes_a_port():
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8100"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "--bind 127.0.0.1:8100" in dry.stdout
    assert "GUNICORN_BIND=127.0.0.1:8100" in dry.stdout
