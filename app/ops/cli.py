"""Command-line tasks for operators."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.engine import make_url

from app.audit import chain
from app.db import get_session
from app.ops import sqlite_backup
from app.records import settings as records_settings
from app.requests import drafts, retention
from app.requests.request_work import recompute_reply_due
from app.requests.retention import purge_closed_requests

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
    purged = purge_closed_requests(
        session,
        closed_before=closed_before.replace(tzinfo=UTC),
        storage=records_settings.storage(current_app.config),
    )
    session.commit()
    click.echo(f"Removed patient data from {len(purged)} closed request(s).")


@intake_cli.command("purge-drafts")
def purge_drafts_command() -> None:
    """Remove the answers of requests being filled in that have passed DRAFT_KEEP_HOURS
    (the retention run does this too)."""
    session = get_session()
    removed = drafts.purge_expired(session, now=datetime.now(UTC))
    session.commit()
    click.echo(f"Removed {removed} expired draft(s).")


def retention_policy() -> retention.RetentionPolicy:
    config = current_app.config
    return retention.RetentionPolicy(
        closed_days=config["RETENTION_CLOSED_DAYS"],
        stale_days=config["RETENTION_STALE_DAYS"],
        audit_years=config["AUDIT_RETENTION_YEARS"],
    )


@intake_cli.command("retention")
def retention_command() -> None:
    """Apply the retention policy (settings RETENTION_*): safe to run from cron or a
    systemd timer on every host at once; one run does the work."""
    session = get_session()
    policy = retention_policy()
    result = retention.run_retention(
        session,
        now=datetime.now(UTC),
        policy=policy,
        storage=records_settings.storage(current_app.config),
    )
    session.commit()
    if result is None:
        click.echo("Another retention run holds the lock; nothing done here.")
        return
    click.echo(
        f"Removed patient data from {len(result.purged)} request(s) closed over "
        f"{policy.closed_days} days ago; flagged {len(result.flagged)} request(s) untouched "
        f"for {policy.stale_days} days; removed {result.audit_entries_removed} audit "
        f"entr{'y' if result.audit_entries_removed == 1 else 'ies'} over "
        f"{policy.audit_years} years old; removed {result.drafts_removed} expired draft(s)."
    )


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
@click.option(
    "--anchor",
    "anchor_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="The app's JSON log (its 'audit entry' lines) or a checkpoint file, kept where "
    "the database's roles cannot write. Repeatable.",
)
def verify_command(anchor_files: tuple[str, ...]) -> None:
    """Recompute the audit trail's hash chain; exit 1 at the first entry that fails.
    With --anchor, also exit 1 if entries the anchors record are gone (the newest ones
    removed, or the table emptied)."""
    session = get_session()
    anchors: dict[int, str] = {}
    for path in anchor_files:
        with open(path, encoding="utf-8", errors="replace") as lines:
            try:
                chain.merge_anchors(anchors, chain.read_anchors(session, lines))
            except chain.AnchorError as error:
                click.echo(f"Audit anchor {path} cannot be trusted: {error}.", err=True)
                raise SystemExit(1) from None
    if anchor_files and not anchors:
        click.echo("The anchor files name no audit entry: checked the chain only.", err=True)
    report = chain.verify(session, anchors=anchors)
    if report.ok:
        start = f" from entry #{report.first_id}" if report.first_id else ""
        against = f", against {len(anchors)} anchored entries" if anchors else ""
        click.echo(f"Audit trail intact: {report.checked} entries checked{start}{against}.")
        return
    click.echo(
        f"Audit trail BROKEN at entry #{report.broken_at}: {report.problem} "
        f"({report.checked} entries before it verified).",
        err=True,
    )
    raise SystemExit(1)


@audit_cli.command("checkpoint")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def checkpoint_command(path: str) -> None:
    """Append a signed line naming the newest audit entry to PATH (created 0600), an
    anchor for `audit verify --anchor PATH`. Keep PATH where the database's roles cannot
    write (another host, a volume only this command's user writes)."""
    line = chain.checkpoint_line(get_session(), now=datetime.now(UTC))
    if line is None:
        click.echo("The audit trail is empty: no checkpoint written.")
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as out:
        out.write(line + "\n")
    click.echo(f"Checkpoint written to {path}: {line}")


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


@intake_cli.command("backup-sqlite")
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
def backup_sqlite_command(destination: Path) -> None:
    """Copy the SQLite database to DESTINATION (a new file) while the app keeps serving:
    SQLite's online backup, what `sqlite3 DB ".backup FILE"` does. PostgreSQL is backed up
    with pgBackRest instead (docs/operations.md)."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise click.UsageError(
            "DATABASE_URL is not a SQLite file; PostgreSQL's backups are pgBackRest's "
            "(docs/operations.md, Backups)."
        )
    if destination.exists():
        raise click.UsageError(f"{destination} exists: give a new file name.")
    copied = sqlite_backup.copy(Path(url.database), destination)
    click.echo(
        f"Copied {url.database} to {destination} as it was at {copied.isoformat()} "
        "(integrity checked)."
    )
