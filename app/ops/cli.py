"""Command-line tasks for operators."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import get_session
from app.services.request_work import recompute_reply_due
from app.services.retention import purge_closed_requests

intake_cli = AppGroup("intake", help="Intake data tasks.")


@intake_cli.command("purge")
@click.option(
    "--closed-before",
    "closed_before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Remove patient data of requests closed before this date (YYYY-MM-DD, UTC).",
)
def purge_command(closed_before: datetime) -> None:
    """Remove patient data from closed requests, keeping references and the audit trail."""
    if closed_before.date() > datetime.now(UTC).date():
        raise click.BadParameter("must not be in the future", param_hint="--closed-before")
    session = get_session()
    purged = purge_closed_requests(session, closed_before=closed_before.replace(tzinfo=UTC))
    session.commit()
    click.echo(f"Removed patient data from {len(purged)} closed request(s).")


@intake_cli.command("reply-due")
def reply_due_command() -> None:
    """Recompute the stored reply-due time of requests still waiting for first contact.

    Run it after changing CENTER_TIMEZONE, BUSINESS_HOURS, BUSINESS_DAYS, CENTER_CLOSURES
    or REPLY_BUSINESS_DAYS: the due time is stored when a request arrives, so the queue
    can filter "overdue" in SQL, and only this command brings waiting requests in line.
    """
    session = get_session()
    changed = recompute_reply_due(session, clock=current_app.extensions["business_clock"])
    session.commit()
    click.echo(f"Recomputed the reply-due time of {changed} waiting request(s).")
