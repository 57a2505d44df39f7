"""The admins' pages: the audit trail, the queue's CSV export and the access metrics."""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, render_template, request

from app.accounts import emergency_access
from app.admin.forms import AuditFilterForm, MetricsForm
from app.audit import trail
from app.auth.access import admin_required, current_actor, staff_blueprint
from app.auth.downloads import Download, patient_data_download
from app.common.forms import options
from app.common.time import now_utc
from app.common.validation import row_id
from app.db import get_session
from app.intake.forms import queue_filters
from app.intake.views import clock
from app.requests import access_metrics, csv_export, journey_funnel, retention
from app.transactions import read_only, record_after_reading
from app.vocabulary import AuditAction

bp = staff_blueprint("admin", __name__)


@bp.get("/audit")
@admin_required
@read_only
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
@patient_data_download
@read_only
def export_csv() -> Download:
    _form, filters, _after = queue_filters(search=None)
    actor, now = current_actor(), now_utc()
    rows = csv_export.export_rows(get_session(), filters=filters, viewer_id=actor.staff_id, now=now)
    return Download(
        body="".join(csv_export.queue_csv(rows)),
        filename=f"intake-queue-{now.strftime('%Y%m%d-%H%M%S')}.csv",
        mimetype="text/csv",
        action=AuditAction.EXPORT,
        to_value=f"{len(rows)} rows",
        detail=csv_export.export_detail(get_session(), filters=filters),
    )


def _chosen_period(formdata) -> tuple[MetricsForm, date, date]:
    """The chosen period; the last 30 days by default, or when the dates cannot be used."""
    form = MetricsForm(formdata)
    today = clock().today(now_utc())
    start, end = today - timedelta(days=29), today
    if form.validate():
        end = form.end.data or end
        start = form.start.data or min(start, end)
        if start > end or (end - start).days >= access_metrics.MAX_DAYS:
            start = end - timedelta(days=29)
    return form, start, end


def _metrics_period(formdata) -> tuple[MetricsForm, access_metrics.Metrics]:
    form, start, end = _chosen_period(formdata)
    metrics = access_metrics.access_metrics(get_session(), start=start, end=end, now=now_utc())
    return form, metrics


def _record_metrics(action: AuditAction, result) -> None:
    """Counts only, no patient, but who looked at the center's figures is on the record."""
    actor = current_actor()
    record_after_reading(
        lambda session: trail.record(
            session, action=action, actor=actor, detail=f"{result.start} to {result.end}"
        )
    )


@bp.get("/metrics")
@admin_required
@read_only
def metrics():
    form, result = _metrics_period(request.args)
    _record_metrics(AuditAction.METRICS_VIEW, result)
    return render_template(
        "admin/metrics.html",
        form=form,
        m=result,
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
        clock=clock(),
    )


@bp.post("/metrics.csv")
@admin_required
@patient_data_download
@read_only
def metrics_csv() -> Download:
    """Counts only, no patient; still under the one rule for downloads: small counts by
    day, referral and language can point at a person, and one rule has no exceptions to
    get wrong (docs/security.md)."""
    _form, result = _metrics_period(request.form)
    return Download(
        body="".join(access_metrics.metrics_csv(result)),
        filename=f"access-metrics-{result.start}-{result.end}.csv",
        mimetype="text/csv",
        action=AuditAction.METRICS_EXPORT,
        detail=f"{result.start} to {result.end}",
    )


@bp.get("/journey")
@admin_required
@read_only
def journey():
    """How far people get through the request journey, and where they stop (issue 30)."""
    form, start, end = _chosen_period(request.args)
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
