"""Admin-only FHIR downloads: one request as a Bundle, and the bulk NDJSON export.

Both carry patient data: admins only, never cached (no-store, app/serving's default), and
every download is in the audit trail with what was exported, never what it held.
"""

from __future__ import annotations

import json
from datetime import UTC
from urllib.parse import quote

from flask import Response, abort, current_app, render_template, url_for
from wtforms import StringField
from wtforms.validators import ValidationError

from app.admin.views import bp
from app.audit import trail
from app.auth.access import admin_required, current_actor
from app.common.errors import NotFound
from app.common.time import now_utc
from app.common.validation import TrimmedForm
from app.db import get_session
from app.fhir import export
from app.fhir.bundle import FhirSettings, instant, request_bundle
from app.requests import reference_codes, request_work
from app.transactions import read_only, record_after_reading
from app.vocabulary import AuditAction

FHIR_JSON = "application/fhir+json"
# Each bundle takes about 1 ms to build and check (20 ms when the R4 models checked it here;
# they run in the tests now), plus its reads: 500 stays well inside gunicorn's 30-second
# timeout. Larger exports are for `flask fhir export`.
WEB_EXPORT_LIMIT = 500


class FhirExportForm(TrimmedForm):
    since = StringField("Requests changed since")

    def validate_since(self, field) -> None:
        if not field.data:
            raise ValidationError("Enter a date, like 2026-11-01")
        try:
            moment = export.parse_since(field.data)
        except ValueError:
            raise ValidationError("Enter a real date, like 2026-11-01") from None
        if moment > now_utc():
            raise ValidationError("The date must be today or in the past")
        field.moment = moment


def _settings() -> FhirSettings:
    return FhirSettings(system_base=current_app.config["FHIR_SYSTEM_BASE"])


def _record(**fields) -> None:
    """What was exported (never what it held), after the reads."""
    actor = current_actor()
    record_after_reading(
        lambda session: trail.record(session, action=AuditAction.FHIR_EXPORT, actor=actor, **fields)
    )


@bp.get("/requests/<reference>/fhir")
@admin_required
@read_only
def request_fhir(reference: str):
    session = get_session()
    try:
        row = request_work.find_request(session, reference=reference)
    except NotFound:
        abort(404)
    if row.purged_at is not None:
        # Retention removed the patient data: there is no bundle left to give.
        abort(404)
    changed = export.last_changed(session, row=row)
    body = json.dumps(request_bundle(row, settings=_settings(), changed=changed), indent=2)
    _record(request_id=row.id, to_value="1 request", detail="FHIR R4 transaction bundle")
    filename = f"request-{reference_codes.display(row.reference)}.fhir.json"
    return Response(
        body + "\n",
        mimetype=FHIR_JSON,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/fhir-export", methods=["GET", "POST"])
@admin_required
@read_only
def fhir_export():
    form = FhirExportForm()
    if not form.validate_on_submit():
        code = 400 if form.errors else 200
        return render_template("admin/fhir_export.html", form=form), code
    since = form.since.moment
    count = export.count_changed(get_session(), since=since)
    if count > WEB_EXPORT_LIMIT:
        form.since.errors = [
            f"{count:,} requests changed since then, more than the {WEB_EXPORT_LIMIT} one "
            "download can hold: choose a later date, or ask for `flask fhir export`"
        ]
        return render_template("admin/fhir_export.html", form=form), 400
    now = now_utc()
    result = export.build_export(get_session(), since=since, settings=_settings(), now=now)
    request_text = url_for(".fhir_export", _external=True) + "?_since=" + quote(instant(since))
    archive = export.zip_bytes(result, request=request_text)
    _record(
        to_value=f"{result.request_count} requests",
        detail=f"FHIR NDJSON changed since {instant(since)}",
    )
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        archive,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="fhir-export-{stamp}.zip"'},
    )
