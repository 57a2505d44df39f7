"""`flask records scan`: scan the documents clamd could not answer for when they arrived.

Run it from a timer every few minutes (deploy/systemd/intake-records-scan.timer): while
clamd is down, files are held as "not yet scanned" and nobody can open them; this is what
lets them through, or holds them apart for good, once clamd answers again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.db import get_session
from app.records import clamd, documents
from app.records import settings as records_settings

records_cli = AppGroup("records", help="Records sent from the private pages.")


@records_cli.command("scan")
def scan_command() -> None:
    """Scan every document still waiting for clamd; exit 1 if clamd does not answer."""
    config = current_app.config
    if not clamd.ping(records_settings.clamd_settings(config)):
        raise click.ClickException(f"clamd does not answer at {config['CLAMD_ADDRESS']}")
    session = get_session()
    counts = documents.scan_held(
        session,
        scanner=records_settings.scanner(config),
        storage=records_settings.storage(config),
        now=datetime.now(UTC),
    )
    session.commit()
    click.echo(
        f"Scanned held documents: {counts['clean']} clean, {counts['flagged']} flagged,"
        f" {counts['pending']} still waiting."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(records_cli)
