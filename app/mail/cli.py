"""`flask outbox work|status|purge`: the delivery worker and its operators' commands."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.db import get_session
from app.mail import outbox
from app.mail.worker import Worker, now_utc

outbox_cli = AppGroup("outbox", help="Deliver and inspect queued e-mail.")


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, _frame):
        # Only a flag: the message being sent is finished and recorded, then the loop ends.
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@outbox_cli.command("work")
def work_command() -> None:
    """Deliver queued e-mail until stopped (SIGTERM or Ctrl-C finish the current message)."""
    stop = threading.Event()
    _stop_on_signals(stop)
    Worker(current_app._get_current_object(), stop=stop).run()  # type: ignore[attr-defined]


@outbox_cli.command("status")
@click.option(
    "--max-wait-minutes",
    type=int,
    default=15,
    show_default=True,
    help="Exit 1 when the oldest waiting message is older than this.",
)
def status_command(max_wait_minutes: int) -> None:
    """Counts of waiting, failed and recently sent messages; exit 1 if mail is stuck."""
    now = now_utc()
    view = outbox.overview(get_session(), now=now, limit=0)
    waited = (now - view.oldest_pending) if view.oldest_pending else timedelta(0)
    minutes = int(waited.total_seconds() // 60)
    click.echo(
        f"pending={view.pending} sending={view.sending} failed={view.failed}"
        f" sent_last_day={view.sent_last_day} oldest_pending_minutes={minutes}"
    )
    if waited > timedelta(minutes=max_wait_minutes):
        raise SystemExit(1)


@outbox_cli.command("purge")
def purge_command() -> None:
    """Remove addresses and bodies older than OUTBOX_KEEP_DAYS now (the worker does it hourly)."""
    removed = Worker(current_app._get_current_object()).purge()  # type: ignore[attr-defined]
    click.echo(f"Removed addresses and bodies from {removed} message(s).")


def init_app(app: Flask) -> None:
    app.cli.add_command(outbox_cli)
