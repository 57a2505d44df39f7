"""One rule for every download from the staff side: ``@patient_data_download``.

A file that leaves the site leaves the audit trail's sight, so every view that answers
with an attachment (the queue's CSV, a request's FHIR bundle, the bulk FHIR export, the
access metrics' CSV, and anything later, such as a patient's records) goes through this
one decorator, which holds the whole rule:

1. a POST, never a GET: a link or an image on another site cannot start it;
2. with the page's CSRF token, checked here as well as by Flask-WTF's global check, so
   the rule holds even for a view someone exempts from that (only the app-wide switch,
   WTF_CSRF_ENABLED, which check-deploy refuses to see off, turns it off);
3. never from another site's page (``Sec-Fetch-Site``, else ``Origin``:
   app/serving/cross_origin.py), refused with 403 and an ``access_denied`` entry;
4. after a fresh proof of identity, within ``STAFF_REAUTH_MINUTES``: otherwise to the
   identity check and back to the page, to press the button again;
5. one audit entry saying what left (the view's ``Download``: action, count, detail,
   the request), written by this decorator once the view has read what it sends, never
   by the view, so no download can forget it.

The view returns a ``Download``; anything else (a page with a form's errors, a 404) is
passed on as it is. Who may download is still declared by ``login_required`` or
``admin_required`` outside it:

    @bp.post("/export.csv")
    @admin_required
    @patient_data_download
    def export_csv() -> Download: ...

``refuse_undeclared_downloads`` (installed by the auth blueprint) turns any staff answer
with ``Content-Disposition: attachment`` from a view without this decorator into a 403
and an error in the log, and tests/admin/test_downloads.py walks the URL map for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from app.audit import trail
from app.auth.access import ask_for_proof, current_actor, proof_is_recent, record_audit
from app.serving.cross_origin import is_cross_origin
from app.transactions import record_after_reading
from app.vocabulary import AuditAction

DOWNLOAD_ATTRIBUTE = "patient_data_download"
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Download:
    """What a download view hands back: the file, and what left, for the audit trail."""

    body: bytes | str
    filename: str
    mimetype: str
    action: AuditAction
    # How much left ("37 rows", "1 request"), and what it was (filters, a period).
    to_value: str | None = None
    detail: str | None = None
    request_id: int | None = None


def patient_data_download(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method != "POST":
            abort(405)
        if is_cross_origin(request.environ):
            record_audit(
                action=AuditAction.ACCESS_DENIED,
                actor=current_actor(),
                detail=f"{request.method} {request.path} (a download from another site)",
            )
            abort(403)
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            # (Off only in tests that are not about it; check-deploy refuses it.)
            try:
                validate_csrf(request.form.get("csrf_token"))
            except ValidationError:
                abort(400)
        if not proof_is_recent():
            return ask_for_proof()
        result = view(*args, **kwargs)
        if not isinstance(result, Download):
            return result
        actor = current_actor()
        # In a transaction of its own, after the reads (app/transactions.py).
        record_after_reading(
            lambda session: trail.record(
                session,
                action=result.action,
                actor=actor,
                request_id=result.request_id,
                to_value=result.to_value,
                detail=result.detail,
            )
        )
        return Response(
            result.body,
            mimetype=result.mimetype,
            headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
        )

    setattr(wrapped, DOWNLOAD_ATTRIBUTE, True)
    return wrapped


def is_declared_download(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, DOWNLOAD_ATTRIBUTE, False))


STAFF_BLUEPRINTS = frozenset({"auth", "intake", "admin"})


def refuse_undeclared_downloads(bp: Blueprint) -> None:
    """Fail closed: a staff view that answers with an attachment without declaring itself
    a download (a mistake) sends nothing but a 403, and says so in the log."""

    @bp.after_app_request
    def _check(response: Response) -> Response:
        disposition = response.headers.get("Content-Disposition", "")
        if not disposition.lower().startswith("attachment") or request.blueprint not in (
            STAFF_BLUEPRINTS
        ):
            return response
        view = current_app.view_functions.get(request.endpoint or "")
        if is_declared_download(view):
            return response
        log.error(
            "attachment refused: view is not a declared download",
            extra={"endpoint": request.endpoint},
        )
        return Response("Forbidden", status=403, mimetype="text/plain")
