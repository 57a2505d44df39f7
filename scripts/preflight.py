"""Checks `make run` and `make migrate` make before they start anything, so that a newcomer
meets one clear line instead of a traceback: the configuration is valid, the database
answers, and (for `make run`) the port is free.

    python scripts/preflight.py [--bind HOST:PORT]

Exits 0 when all is well; otherwise prints one line saying what is wrong and exits 1.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.db import ensure_sqlite_directory  # noqa: E402
from config import ConfigError, config_from_env  # noqa: E402

# Long enough for a database across a network, short enough that a wrong host name does
# not look like a hang.
_CONNECT_TIMEOUT_SECONDS = 5


def check_database(url: str) -> str | None:
    """None when the database answers, else a line saying which one does not."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    connect_args = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = _CONNECT_TIMEOUT_SECONDS
    try:
        ensure_sqlite_directory(url)
        engine = create_engine(url, connect_args=connect_args)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as error:  # any failure here means the same thing to the person
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return f"Cannot reach the database {shown} (DATABASE_URL): {reason}"
    return None


def check_port(bind: str) -> str | None:
    """None when HOST:PORT can be listened on, else a line saying it is taken."""
    host, _, port_text = bind.rpartition(":")
    try:
        port = int(port_text)
    except ValueError:
        return f"PORT must be a number, got {port_text!r}"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As gunicorn does, so a port left in TIME_WAIT by the last run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "127.0.0.1", port))
        except OSError as error:
            return (
                f"Port {port} on {host} is already in use ({error.strerror}): stop what runs "
                f"there, or pick another port, for example PORT={port + 100} make run"
            )
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", help="HOST:PORT the server will listen on")
    args = parser.parse_args()
    try:
        url = config_from_env().SQLALCHEMY_DATABASE_URI
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 1
    problems = [check_database(url)]
    if args.bind:
        problems.append(check_port(args.bind))
    problems = [p for p in problems if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
