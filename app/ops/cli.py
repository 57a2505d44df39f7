"""Command-line tasks for operators."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.db import get_session
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
