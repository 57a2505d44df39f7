"""A real gunicorn serving the app on 127.0.0.1, on a free port, against a SQLite file
migrated by Alembic. Used by the browser tests and by ``make screenshots``.

The listening socket is opened here on port 0 and handed to gunicorn as a file
descriptor (``fd://N``), so there is no window in which another process could take the
port between choosing it and binding it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.databases import ROOT, migrate_to_head

SECRET_KEY = "browser-tests-only-not-secret"  # noqa: S105


@dataclass
class LiveServer:
    url: str
    database_url: str
    log_path: Path
    env: dict[str, str] = field(repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def flask(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        """Run a ``flask`` command (e.g. ``staff create``) against the server's database."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi:app", *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "FLASK_"))}
    env.update(
        APP_ENV="testing",
        TEST_DATABASE_URL=database_url,
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        # One browser on 127.0.0.1 sends the form and signs in more often than the
        # limits allow a person; the rate limits have tests of their own.
        RATELIMIT_ENABLED="false",
    )
    return env


def start_live_server(
    workdir: Path,
    *,
    timeout: float = 30.0,
    extra_env: dict[str, str] | Callable[[str], dict[str, str]] | None = None,
) -> LiveServer:
    """Migrate a fresh SQLite database under ``workdir`` and start gunicorn on it
    (``extra_env``: more settings, such as an SMTP server or clamd; or a function of the
    server's address giving them, for settings that name it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{workdir / 'browser.sqlite3'}"
    migrate_to_head(database_url)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    os.set_inheritable(fd, True)

    env = server_env(database_url)
    # The private links in e-mails (issue 29) point at this server.
    env["PUBLIC_SITE_URL"] = f"http://127.0.0.1:{port}"
    env.update((extra_env(f"http://127.0.0.1:{port}") if callable(extra_env) else extra_env) or {})
    log_path = workdir / "gunicorn.log"
    server = LiveServer(
        url=f"http://127.0.0.1:{port}", database_url=database_url, log_path=log_path, env=env
    )
    with log_path.open("wb") as log:
        server.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"fd://{fd}",
                # Threads, so the page, its stylesheet and its script load side by side.
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                "4",
                # Not the shared default under ~/.gunicorn: other servers on this machine use it.
                "--no-control-socket",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
        )
    listener.close()

    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{server.log_tail()}")
        time.sleep(0.1)
