"""What the person sent, as staff open it (issue 29): previews, downloads, signed releases,
a fresh private link, and "Mark as seen".

Who: every signed-in staff member, intake or admin. The coordinator who calls the person
needs the records, and any coordinator may pick a request up; each opening is in the
audit trail (docs/security.md).

A preview is shown by the browser, never run: ``Content-Disposition: inline`` with a file
name that says nothing of the patient, a CSP of its own (``sandbox``, nothing may load or
run), ``nosniff`` (every answer), ``Cross-Origin-Resource-Policy: same-origin``. Only clean
files (clamd) are served at all; a held one is a 404 like one that does not exist.
"""

from __future__ import annotations

from flask import Response, current_app, flash, render_template

from app.auth.access import current_actor, login_required
from app.auth.downloads import Download, patient_data_download
from app.common.forms import ActionForm
from app.common.time import now_utc
from app.db import get_session
from app.intake.views import _back, bp
from app.mail import outbox
from app.records import documents, releases
from app.records import settings as records_settings
from app.requests import patient_page, private_links
from app.transactions import commits, read_only
from app.vocabulary import AuditAction

# The preview's own policy, beside the site's: the document is a sandboxed, opaque origin
# that may load nothing, run nothing, be framed by nobody.
PREVIEW_POLICY = "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'none'"


def _storage() -> documents.Storage:
    return records_settings.storage(current_app.config)


def _document_answer(reference: str, document_id: int, *, action: AuditAction, disposition: str):
    """A clean document's bytes, opened (and audited) as ``action``; a held one is a 404.
    (Only the preview: a download goes through the one download rule.)"""
    opened = documents.open_document(
        get_session(),
        reference=reference,
        document_id=document_id,
        storage=_storage(),
        actor=current_actor(),
        action=action,
    )
    response = Response(opened.content, mimetype=opened.content_type)
    response.headers["Content-Disposition"] = f'{disposition}; filename="{opened.file_name}"'
    return response


@bp.get("/requests/<reference>/documents/<id:document_id>/preview")
@login_required
@commits
def document_preview(reference: str, document_id: int):
    response = _document_answer(
        reference, document_id, action=AuditAction.DOCUMENT_PREVIEWED, disposition="inline"
    )
    response.headers.add("Content-Security-Policy", PREVIEW_POLICY)
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@bp.post("/requests/<reference>/documents/<id:document_id>/download")
@login_required
@patient_data_download
@read_only
def document_download(reference: str, document_id: int) -> Download:
    opened = documents.open_document(
        get_session(),
        reference=reference,
        document_id=document_id,
        storage=_storage(),
        actor=current_actor(),
        action=None,
    )
    return Download(
        body=opened.content,
        filename=opened.file_name,
        mimetype=opened.content_type,
        action=AuditAction.DOCUMENT_DOWNLOADED,
        request_id=opened.request_id,
        detail=documents.describe(opened),
    )


@bp.get("/requests/<reference>/releases/<id:release_id>")
@login_required
@commits
def release_print(reference: str, release_id: int):
    """The signed release, printable: one copy per provider, each on its own sheet."""
    release, row = releases.release_for_staff(
        get_session(), reference=reference, release_id=release_id, actor=current_actor()
    )
    return render_template("intake/release_print.html", release=release, r=row)


@bp.post("/requests/<reference>/link")
@login_required
@commits
def send_link(reference: str):
    if ActionForm().validate_on_submit():
        session = get_session()
        fresh = private_links.send_fresh(
            session, reference=reference, actor=current_actor(), now=now_utc()
        )
        outbox.queue_request_link(session, link=fresh)
        flash("A fresh private link is on its way; the old one no longer works.", "success")
    return _back(reference)


@bp.post("/requests/<reference>/seen")
@login_required
@commits
def mark_seen(reference: str):
    if ActionForm().validate_on_submit():
        patient_page.mark_seen(
            get_session(), reference=reference, actor=current_actor(), now=now_utc()
        )
        flash("Marked as seen.", "success")
    return _back(reference)
