"""The admins' pages: the audit trail, the queue's CSV export and the access metrics."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Response, abort, current_app, render_template, request

from app.accounts import emergency_access
from app.admin.forms import AuditFilterForm, MetricsForm
from app.audit import trail
from app.auth.access import admin_required, current_actor, recent_proof_required, staff_blueprint
from app.common.forms import ActionForm, options
from app.common.time import now_utc
from app.common.validation import row_id
from app.db import get_session
from app.intake.forms import queue_filters
from app.intake.views import clock
from app.requests import access_metrics, csv_export, intake_queue, journey_funnel, retention
from app.serving.cross_origin import is_cross_origin
from app.transactions import record_after_reading
from app.vocabulary import AuditAction

bp = staff_blueprint("admin", __name__)


@bp.get("/audit")
@admin_required
def audit_trail():
    session = get_session()
    form = AuditFilterForm(request.args)
    form.staff.choices = options(
        [("", "Everyone")] + [(str(i), name) for i, name in trail.staff_members(session)]
    )
    form.validate()
    before = row_id(request.args.get("before"))
    emergency_only = request.args.get("emergency") == "1"
    page = trail.audit_page(
        session,
        staff_id=form.staff_id,
        reference=form.parsed_reference,
        before=before,
        emergency_only=emergency_only,
    )
    filter_args = {
        name: form[name].data
        for name in ("staff", "reference")
        if form[name].data and not form[name].errors
    }
    if emergency_only:
        filter_args["emergency"] = "1"
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        before=before,
        filter_args=filter_args,
        emergency_only=emergency_only,
        emergency_accounts=emergency_access.accounts_to_review(session, now=now_utc()),
        stale_days=current_app.config["RETENTION_STALE_DAYS"],
        stale=retention.stale_requests(
            session,
            untouched_since=now_utc() - timedelta(days=current_app.config["RETENTION_STALE_DAYS"]),
        ),
    )


@bp.post("/export.csv")
@admin_required
@recent_proof_required
def export_csv():
    # POST with the form's CSRF token only (a GET link on another site must not make an
    # admin's browser download the queue), and never from another site's page: a bulk
    # export of patients' names only ever starts from this site's own queue page.
    if is_cross_origin(request.environ):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    _form, filters, _after = queue_filters()
    actor, now = current_actor(), now_utc()
    rows = list(
        intake_queue.iter_queue(
            get_session(),
            filters=filters,
            viewer_id=actor.staff_id,
            now=now,
        )
    )
    record_after_reading(
        lambda: csv_export.record_export(
            get_session(), actor=actor, filters=filters, rows=len(rows)
        )
    )
    return Response(
        "".join(csv_export.queue_csv(rows)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="intake-queue-{now.strftime("%Y%m%d-%H%M%S")}.csv"'
            )
        },
    )


def _chosen_period() -> tuple[MetricsForm, date, date]:
    """The chosen period; the last 30 days by default, or when the dates cannot be used."""
    form = MetricsForm(request.args)
    today = clock().today(now_utc())
    start, end = today - timedelta(days=29), today
    if form.validate():
        end = form.end.data or end
        start = form.start.data or min(start, end)
        if start > end or (end - start).days >= access_metrics.MAX_DAYS:
            start = end - timedelta(days=29)
    return form, start, end


def _metrics_period() -> tuple[MetricsForm, access_metrics.Metrics]:
    form, start, end = _chosen_period()
    metrics = access_metrics.access_metrics(get_session(), start=start, end=end, now=now_utc())
    return form, metrics


def _record_metrics(action: AuditAction, result) -> None:
    """Counts only, no patient, but who looked at the center's figures is on the record."""
    actor = current_actor()
    record_after_reading(
        lambda: trail.record(
            get_session(), action=action, actor=actor, detail=f"{result.start} to {result.end}"
        )
    )


@bp.get("/metrics")
@admin_required
def metrics():
    form, result = _metrics_period()
    _record_metrics(AuditAction.METRICS_VIEW, result)
    return render_template(
        "admin/metrics.html",
        form=form,
        m=result,
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
        clock=clock(),
    )


@bp.get("/metrics.csv")
@admin_required
def metrics_csv():
    _form, result = _metrics_period()
    _record_metrics(AuditAction.METRICS_EXPORT, result)
    return Response(
        "".join(access_metrics.metrics_csv(result)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="access-metrics-{result.start}-{result.end}.csv"'
            )
        },
    )


@bp.get("/journey")
@admin_required
def journey():
    """How far people get through the request journey, and where they stop (issue 30)."""
    form, start, end = _chosen_period()
    result = journey_funnel.funnel(get_session(), start=start, end=end)
    _record_metrics(AuditAction.JOURNEY_VIEW, result)
    return render_template(
        "admin/journey.html",
        form=form,
        funnel=result,
        stages=journey_funnel.STAGES,
        stopped_on=journey_funnel.STOPPED_ON,
        clock=clock(),
    )
