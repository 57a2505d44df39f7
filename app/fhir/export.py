"""Bulk export: the requests changed since a time, as FHIR Bulk Data style NDJSON.

One file per resource type (``Patient.ndjson``, ``Task.ndjson``...), one resource per
line, each with an ``id`` (the uuid of its bundle fullUrl) and references written as
``Type/id``, plus a ``manifest.json`` shaped like the Bulk Data ``$export`` status answer.

The files hold patient data. ``write_files`` makes its directory 0700 and every file 0600
whatever the umask, and refuses a directory other users can already read.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.fhir.bundle import FhirSettings, Resource, instant, request_bundle
from app.models import AppointmentRequest, RequestEvent

BATCH = 200
MANIFEST = "manifest.json"


class ExportError(Exception):
    """The export cannot be written where asked; the message says why."""


def parse_since(text: str) -> datetime:
    """A date (``2026-11-01``, midnight UTC) or an ISO 8601 time; naive times are UTC."""
    text = (text or "").strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("Enter a date like 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _last_event():
    return (
        select(RequestEvent.request_id, func.max(RequestEvent.created_at).label("at"))
        .group_by(RequestEvent.request_id)
        .subquery()
    )


def _changed_since(since: datetime, last_event) -> tuple:
    return (
        AppointmentRequest.purged_at.is_(None),
        or_(
            AppointmentRequest.submitted_at >= since,
            AppointmentRequest.claimed_at >= since,
            AppointmentRequest.closed_at >= since,
            last_event.c.at >= since,
        ),
    )


def count_changed(session: Session, *, since: datetime) -> int:
    last_event = _last_event()
    return session.scalar(
        select(func.count())
        .select_from(AppointmentRequest)
        .outerjoin(last_event, last_event.c.request_id == AppointmentRequest.id)
        .where(*_changed_since(since, last_event))
    )


def changed_requests(
    session: Session, *, since: datetime
) -> Iterator[tuple[AppointmentRequest, datetime]]:
    """Requests submitted, claimed, closed or given a history entry at or after ``since``,
    with when each last changed; oldest id first, read in batches. Requests whose patient
    data retention has removed are left out: there is nothing left to send."""
    last_event = _last_event()
    after = 0
    while True:
        rows = session.execute(
            select(AppointmentRequest, last_event.c.at)
            .outerjoin(last_event, last_event.c.request_id == AppointmentRequest.id)
            .options(
                selectinload(AppointmentRequest.referral),
                selectinload(AppointmentRequest.claimed_by),
            )
            .where(AppointmentRequest.id > after, *_changed_since(since, last_event))
            .order_by(AppointmentRequest.id)
            .limit(BATCH)
        ).all()
        for row, event_at in rows:
            yield row, _latest(row, event_at)
        if len(rows) < BATCH:
            return
        after = rows[-1][0].id


def _latest(row: AppointmentRequest, event_at: datetime | None) -> datetime:
    times = [row.submitted_at, row.claimed_at, row.closed_at, event_at]
    return max(t for t in times if t is not None)


def last_changed(session: Session, *, row: AppointmentRequest) -> datetime:
    """When one request last changed, its history included."""
    event_at = session.scalar(
        select(func.max(RequestEvent.created_at)).where(RequestEvent.request_id == row.id)
    )
    return _latest(row, event_at)


def bundle_resources(bundle: Resource) -> Iterator[Resource]:
    """The bundle's resources as a server would hold them: with ids, references by id."""
    ids = {
        entry["fullUrl"]: (entry["resource"]["resourceType"], entry["fullUrl"].split(":")[-1])
        for entry in bundle["entry"]
    }
    local = {url: f"{kind}/{uuid_}" for url, (kind, uuid_) in ids.items()}

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: local.get(inner, inner) if key == "reference" else rewrite(inner)
                for key, inner in value.items()
            }
        if isinstance(value, list):
            return [rewrite(inner) for inner in value]
        return value

    for entry in bundle["entry"]:
        resource = rewrite(entry["resource"])
        yield {"resourceType": resource["resourceType"], "id": ids[entry["fullUrl"]][1]} | {
            k: v for k, v in resource.items() if k != "resourceType"
        }


@dataclass
class BulkExport:
    since: datetime
    transaction_time: datetime
    request_count: int = 0
    lines: dict[str, list[str]] = field(default_factory=dict)

    def manifest(self, request: str) -> dict[str, Any]:
        return {
            "transactionTime": instant(self.transaction_time),
            "request": request,
            "requiresAccessToken": True,
            "output": [
                {"type": kind, "url": f"{kind}.ndjson", "count": len(lines)}
                for kind, lines in sorted(self.lines.items())
            ],
            "error": [],
        }


def build_export(
    session: Session, *, since: datetime, settings: FhirSettings, now: datetime
) -> BulkExport:
    export = BulkExport(since=since, transaction_time=now)
    for row, changed in changed_requests(session, since=since):
        bundle = request_bundle(row, settings=settings, changed=changed)
        for resource in bundle_resources(bundle):
            line = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
            export.lines.setdefault(resource["resourceType"], []).append(line)
        export.request_count += 1
    return export


def _file_bytes(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def zip_bytes(export: BulkExport, *, request: str) -> bytes:
    """The files in one zip, for a browser download (nothing touches the disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for kind, lines in sorted(export.lines.items()):
            archive.writestr(f"{kind}.ndjson", _file_bytes(lines))
        archive.writestr(MANIFEST, json.dumps(export.manifest(request), indent=2) + "\n")
    return buffer.getvalue()


def _private_directory(directory: Path) -> None:
    if directory.is_symlink():
        raise ExportError(f"{directory} is a symbolic link: give a real directory")
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True)
        # mkdir's mode is filtered by the umask; set it exactly.
        directory.chmod(0o700)
        return
    if not directory.is_dir():
        raise ExportError(f"{directory} exists and is not a directory")
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & 0o077:
        raise ExportError(
            f"{directory} can be read by other users (mode {mode:o}): "
            "give a new directory, or chmod 700 it first"
        )


def _write_private(path: Path, data: bytes) -> None:
    # O_NOFOLLOW: never write through a link someone left in the directory.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    # A file left from an earlier export keeps its old mode through O_CREAT: set it.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def write_files(export: BulkExport, directory: Path, *, request: str) -> list[Path]:
    """Write the NDJSON files and manifest into ``directory``; returns the paths."""
    _private_directory(directory)
    written = []
    for kind, lines in sorted(export.lines.items()):
        path = directory / f"{kind}.ndjson"
        _write_private(path, _file_bytes(lines))
        written.append(path)
    manifest = directory / MANIFEST
    _write_private(manifest, (json.dumps(export.manifest(request), indent=2) + "\n").encode())
    written.append(manifest)
    return written
