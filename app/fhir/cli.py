"""`flask fhir export --since DATE DIR`: the bulk NDJSON export, written to a directory."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.audit import trail
from app.common.time import now_utc
from app.db import get_session
from app.fhir import export
from app.fhir.bundle import FhirSettings, instant
from app.vocabulary import AuditAction

fhir_cli = AppGroup("fhir", help="FHIR R4 export for the health record.")


def _since(_ctx, _param, value: str):
    try:
        moment = export.parse_since(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if moment > now_utc():
        raise click.BadParameter("must not be in the future")
    return moment


@fhir_cli.command("export")
@click.option(
    "--since",
    required=True,
    callback=_since,
    help="Requests changed at or after this date (YYYY-MM-DD, midnight UTC) or ISO time.",
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_command(since, directory: Path) -> None:
    """Write one NDJSON file per resource type and a manifest.json into DIRECTORY.

    DIRECTORY is created 0700 and the files 0600; an existing directory other users can
    read is refused. The export is recorded in the audit trail."""
    session = get_session()
    settings = FhirSettings(system_base=current_app.config["FHIR_SYSTEM_BASE"])
    result = export.build_export(session, since=since, settings=settings, now=now_utc())
    request = f"flask fhir export --since {instant(since)}"
    try:
        written = export.write_files(result, directory, request=request)
    except (export.ExportError, OSError) as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    trail.record(
        session,
        action=AuditAction.FHIR_EXPORT,
        to_value=f"{result.request_count} requests",
        detail=f"FHIR NDJSON changed since {instant(since)} (command line)",
    )
    session.commit()
    click.echo(
        f"Wrote {result.request_count} request(s) as {len(written) - 1} NDJSON file(s) "
        f"and {export.MANIFEST} to {directory}."
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(fhir_cli)
