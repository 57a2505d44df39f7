"""Admin-only FHIR downloads: one request as a Bundle, and the bulk NDJSON export.

Both carry patient data: admins only, under the one rule for downloads
(``@patient_data_download``: a POST with the CSRF token, from this site, after a fresh
proof, with one audit entry saying what left, never what it held), and never cached
(no-store, app/serving's default).
"""

from __future__ import annotations

import json
from datetime import UTC
from urllib.parse import quote

from flask import abort, current_app, render_template, url_for
from wtforms import StringField
from wtforms.validators import ValidationError

from app.admin.views import bp
from app.auth.access import admin_required
from app.auth.downloads import Download, patient_data_download
from app.common.errors import NotFound
from app.common.time import now_utc
from app.common.validation import TrimmedForm
from app.db import get_session
from app.fhir import export
from app.fhir.bundle import FhirSettings, instant, request_bundle
from app.records import documents
from app.records import settings as records_settings
from app.requests import reference_codes, request_work
from app.transactions import read_only
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


@bp.post("/requests/<reference>/fhir")
@admin_required
@patient_data_download
@read_only
def request_fhir(reference: str) -> Download:
    session = get_session()
    try:
        row = request_work.find_request(session, reference=reference)
    except NotFound:
        abort(404)
    if row.purged_at is not None:
        # Retention removed the patient data: there is no bundle left to give.
        abort(404)
    changed = export.last_changed(session, row=row)
    sent = documents.clean_documents_for_export(
        session, request_id=row.id, storage=records_settings.storage(current_app.config)
    )
    body = json.dumps(
        request_bundle(row, settings=_settings(), changed=changed, documents=sent), indent=2
    )
    return Download(
        body=body + "\n",
        filename=f"request-{reference_codes.display(row.reference)}.fhir.json",
        mimetype=FHIR_JSON,
        action=AuditAction.FHIR_EXPORT,
        request_id=row.id,
        to_value="1 request",
        detail="FHIR R4 transaction bundle",
    )


@bp.get("/fhir-export")
@admin_required
@read_only
def fhir_export():
    return render_template("admin/fhir_export.html", form=FhirExportForm(formdata=None))


@bp.post("/fhir-export")
@admin_required
@patient_data_download
@read_only
def fhir_export_download():
    form = FhirExportForm()
    if not form.validate():
        return render_template("admin/fhir_export.html", form=form), 400
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
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return Download(
        body=export.zip_bytes(result, request=request_text),
        filename=f"fhir-export-{stamp}.zip",
        mimetype="application/zip",
        action=AuditAction.FHIR_EXPORT,
        to_value=f"{result.request_count} requests",
        detail=f"FHIR NDJSON changed since {instant(since)}",
    )
