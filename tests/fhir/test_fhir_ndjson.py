"""Bulk export: requests changed since a time, as NDJSON files nobody else can read, from
the command line; each line a valid R4 resource whose references resolve in the export."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.fhir import export
from app.fhir.bundle import request_bundle
from app.models import AppointmentRequest, AuditEvent, RequestEvent, RequestStatus
from app.requests import request_work
from tests.fhir.examples import SETTINGS
from tests.fhir.r4 import r4_problems
from tests.support.staff import a_referral, make_request, make_staff

LONG_AGO = datetime.now(UTC) - timedelta(days=60)
SINCE = datetime.now(UTC) - timedelta(days=7)


def read_export(directory: Path) -> dict[str, list[dict]]:
    found = {}
    for path in directory.glob("*.ndjson"):
        found[path.stem] = [json.loads(line) for line in path.read_text().splitlines()]
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def requests(app, db):
    """An old untouched request, an old one worked on lately, a new one with a referral,
    and a new one whose patient data retention removed."""
    staff = make_staff(app, db)
    untouched = make_request(db, submitted_at=LONG_AGO, last_name="Untouched")
    worked = make_request(db, submitted_at=LONG_AGO, last_name="Worked")
    # Only its history says it changed lately: a note added today.
    db.add(RequestEvent(request_id=worked.id, staff_id=staff.id, kind="note", note="Called"))
    db.commit()
    new = make_request(
        db,
        referral=a_referral(),
        last_name="New",
        submitted_by_patient=False,
        submitter_name="Ana Santos",
        submitter_relationship="Daughter",
        submitter_phone="+18135550199",
    )
    purged = make_request(db, last_name="Purged")
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == purged.id)
        .values(purged_at=datetime.now(UTC), status=RequestStatus.CLOSED)
    )
    db.commit()
    return {"untouched": untouched, "worked": worked, "new": new, "purged": purged}


def test_only_requests_changed_since_the_time_are_exported(app, db, requests):
    found = {row.id for row, _changed in export.changed_requests(db, since=SINCE)}
    assert found == {requests["worked"].id, requests["new"].id}
    everything = {row.id for row, _ in export.changed_requests(db, since=LONG_AGO - timedelta(1))}
    assert requests["untouched"].id in everything
    assert requests["purged"].id not in everything


def test_the_command_writes_private_ndjson_files_and_records_it(app, db, requests, tmp_path):
    target = tmp_path / "out" / "fhir"
    old_umask = os.umask(0)  # the files must be private whatever the umask says
    try:
        result = app.test_cli_runner().invoke(
            args=["fhir", "export", "--since", SINCE.date().isoformat(), str(target)]
        )
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    assert "Wrote 2 request(s)" in result.output
    assert mode(target) == 0o700
    files = sorted(p.name for p in target.iterdir())
    assert files == [
        "Coverage.ndjson",
        "Organization.ndjson",
        "Patient.ndjson",
        "Practitioner.ndjson",
        "PractitionerRole.ndjson",
        "QuestionnaireResponse.ndjson",
        "RelatedPerson.ndjson",
        "ServiceRequest.ndjson",
        "Task.ndjson",
        "manifest.json",
    ]
    assert all(mode(target / name) == 0o600 for name in files)

    resources = read_export(target)
    assert len(resources["Patient"]) == 2
    assert {p["name"][0]["family"] for p in resources["Patient"]} == {"Worked", "New"}
    ids = {f"{kind}/{r['id']}" for kind, rows in resources.items() for r in rows}
    for kind, rows in resources.items():
        for resource in rows:
            assert r4_problems(resource) == [], kind
            for reference in _references(resource):
                assert reference in ids, f"{kind} refers to {reference}, not in the export"

    manifest = json.loads((target / "manifest.json").read_text())
    assert {o["type"]: o["count"] for o in manifest["output"]}["Task"] == 2
    assert manifest["request"].startswith("flask fhir export --since ")
    assert manifest["error"] == []

    db.rollback()
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "fhir_export")).one()
    assert event.to_value == "2 requests"
    assert "command line" in event.detail
    assert "Worked" not in event.detail


def _references(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference":
                yield inner
            else:
                yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def test_a_directory_others_can_read_is_refused(app, db, requests, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    result = app.test_cli_runner().invoke(
        args=["fhir", "export", "--since", "2026-01-01", str(shared)]
    )
    assert result.exit_code == 1
    assert "can be read by other users" in result.output
    assert list(shared.iterdir()) == []
    db.rollback()
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "fhir_export")).all() == []


def test_a_file_left_by_an_earlier_export_is_made_private_again(app, db, requests, tmp_path):
    target = tmp_path / "again"
    target.mkdir(mode=0o700)
    target.chmod(0o700)
    stale = target / "Patient.ndjson"
    stale.write_text("old\n")
    stale.chmod(0o644)
    result = app.test_cli_runner().invoke(
        args=["fhir", "export", "--since", SINCE.date().isoformat(), str(target)]
    )
    assert result.exit_code == 0, result.output
    assert mode(stale) == 0o600
    assert "old" not in stale.read_text()


@pytest.mark.parametrize(
    ("since", "message"),
    [("yesterday", "Enter a date like 2026-11-01"), ("2999-01-01", "must not be in the future")],
)
def test_the_command_explains_a_bad_date(app, tmp_path, since, message):
    result = app.test_cli_runner().invoke(
        args=["fhir", "export", "--since", since, str(tmp_path / "x")]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "x").exists()


def test_since_reads_dates_and_times():
    assert export.parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert export.parse_since("2026-11-01T08:30:00Z") == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert export.parse_since("2026-11-01T08:30:00") == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    with pytest.raises(ValueError):
        export.parse_since("11/01/2026")


def test_bundle_resources_get_ids_and_local_references(app, db, requests):
    row = request_work.find_request(db, reference=requests["new"].reference)
    bundle = request_bundle(row, settings=SETTINGS)
    resources = list(export.bundle_resources(bundle))
    assert [r["id"] for r in resources] == [
        e["fullUrl"].removeprefix("urn:uuid:") for e in bundle["entry"]
    ]
    task = next(r for r in resources if r["resourceType"] == "Task")
    assert task["focus"]["reference"].startswith("ServiceRequest/")
