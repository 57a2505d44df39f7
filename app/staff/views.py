"""The queue, a request, the audit trail and the export."""

from __future__ import annotations

from datetime import datetime

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.db import get_session
from app.models import CloseReason, RequestStatus, StaffUser
from app.public import choices
from app.services import audit, csv_export, intake_queue, reference_codes, request_work
from app.services.audit import Action
from app.services.intake_queue import ClaimFilter, QueueFilters, ReferralFilter, StatusFilter
from app.services.staff_accounts import now_utc
from app.validation import row_id

from . import bp
from .access import admin_required, client_ip, login_required
from .forms import (
    ActionForm,
    AuditFilterForm,
    NoteForm,
    QueueFilterForm,
    StatusForm,
    options,
)


@bp.get("/")
@login_required
def index():
    return redirect(url_for(".queue"))


def _filter_values() -> MultiDict:
    """The queue's filters: posted when there is a search (a patient's name must never be
    in a URL, where logs and browser history keep it), otherwise from the query string."""
    if request.method == "POST":
        return request.form
    values = MultiDict(request.args)
    values.pop("q", None)
    return values


def _queue_filters() -> tuple[QueueFilterForm, QueueFilters, int | None]:
    values = _filter_values()
    form = QueueFilterForm(values)
    after = row_id(values.get("after"))
    if not form.validate():
        # Unknown values fall back to the default view, and the form says what was wrong.
        return form, QueueFilters(), None
    filters = QueueFilters(
        status=StatusFilter(form.status.data),
        referral=ReferralFilter(form.referral.data),
        claim=ClaimFilter(form.claim.data),
        search=form.q.data or "",
    )
    return form, filters, after


def _filter_args(form: QueueFilterForm) -> dict[str, str]:
    """Filters safe to put in a link: never the search text."""
    return {
        name: form[name].data
        for name in ("status", "referral", "claim")
        if form[name].data and not form[name].errors
    }


@bp.route("/queue", methods=["GET", "POST"])
@login_required
def queue():
    form, filters, after = _queue_filters()
    page = intake_queue.queue_page(
        get_session(),
        filters=filters,
        viewer_id=g.staff.id,
        now=now_utc(),
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
        after=after,
    )
    return render_template(
        "staff/queue.html",
        form=form,
        filters=filters,
        page=page,
        after=after,
        filter_args=_filter_args(form),
        now=now_utc(),
        status_labels=request_work.STATUS_LABELS,
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
    )


def _load(reference: str):
    try:
        return request_work.find_request(get_session(), reference=reference)
    except request_work.RequestNotFound:
        abort(404)


def _record_after_reading(write) -> None:
    """The audit entry of a page that only reads, in a transaction of its own.

    On SQLite, a transaction that has read and then writes fails at once ("database is
    locked") if another worker wrote in between; one that starts by writing waits its
    turn instead. PostgreSQL pays one extra COMMIT.
    """
    session = get_session()
    session.commit()
    write()
    session.commit()


def _render_request(reference: str, *, status_form=None, note_form=None, code=200):
    session = get_session()
    try:
        detail = request_work.request_detail(session, reference=reference)
    except request_work.RequestNotFound:
        abort(404)
    _record_after_reading(
        lambda: request_work.record_view(
            session, request_id=detail.request.id, staff=g.staff, client_ip=client_ip()
        )
    )
    row = detail.request
    if status_form is None:
        status_form = StatusForm(formdata=None)
    status_form.set_moves(request_work.allowed_moves(row.status))
    now = now_utc()
    submitted_at = intake_queue.as_utc(row.submitted_at)
    reply_days = current_app.config["REPLY_BUSINESS_DAYS"]
    return (
        render_template(
            "staff/request.html",
            r=row,
            detail=detail,
            reference_display=reference_codes.display(row.reference),
            submitted_at=submitted_at,
            now=now,
            reply_due=intake_queue.add_business_days(submitted_at, reply_days),
            overdue=intake_queue.is_overdue(
                submitted_at=submitted_at, status=row.status, now=now, days=reply_days
            ),
            status_form=status_form,
            note_form=note_form or NoteForm(formdata=None),
            choices=choices,
            status_labels=request_work.STATUS_LABELS,
            close_labels=request_work.CLOSE_REASON_LABELS,
            form=status_form if status_form.errors else (note_form or None),
        ),
        code,
    )


@bp.get("/requests/<reference>")
@login_required
def request_detail(reference: str):
    return _render_request(reference)


def _back(reference: str):
    return redirect(url_for(".request_detail", reference=reference), code=303)


@bp.post("/requests/<reference>/claim")
@login_required
def claim(reference: str):
    row = _load(reference)
    if ActionForm().validate_on_submit():
        try:
            request_work.claim(
                get_session(),
                request_id=row.id,
                staff=g.staff,
                now=now_utc(),
                client_ip=client_ip(),
            )
            get_session().commit()
            flash("You have claimed this request.", "success")
        except request_work.WorkRefused as refused:
            get_session().rollback()
            flash(str(refused), "error")
    return _back(reference)


@bp.post("/requests/<reference>/release")
@login_required
def release(reference: str):
    row = _load(reference)
    if ActionForm().validate_on_submit():
        try:
            request_work.release(
                get_session(), request_id=row.id, staff=g.staff, client_ip=client_ip()
            )
            get_session().commit()
            flash("You have released this request back to the queue.", "success")
        except request_work.WorkRefused as refused:
            get_session().rollback()
            flash(str(refused), "error")
    return _back(reference)


@bp.post("/requests/<reference>/status")
@login_required
def change_status(reference: str):
    row = _load(reference)
    form = StatusForm()
    form.set_moves(request_work.allowed_moves(row.status))
    if not form.validate_on_submit():
        get_session().rollback()
        return _render_request(reference, status_form=form, code=400)
    to_status = RequestStatus(form.to_status.data)
    try:
        request_work.change_status(
            get_session(),
            request_id=row.id,
            staff=g.staff,
            to_status=to_status,
            close_reason=(
                CloseReason(form.close_reason.data)
                if to_status == RequestStatus.CLOSED and form.close_reason.data
                else None
            ),
            note=form.status_note.data or None,
            now=now_utc(),
            client_ip=client_ip(),
        )
        get_session().commit()
        flash(f"Status changed to {request_work.STATUS_LABELS[to_status].lower()}.", "success")
    except request_work.WorkRefused as refused:
        get_session().rollback()
        flash(str(refused), "error")
    return _back(reference)


@bp.post("/requests/<reference>/notes")
@login_required
def add_note(reference: str):
    row = _load(reference)
    form = NoteForm()
    if not form.validate_on_submit():
        get_session().rollback()
        return _render_request(reference, note_form=form, code=400)
    request_work.add_note(
        get_session(), request_id=row.id, staff=g.staff, note=form.note.data, client_ip=client_ip()
    )
    get_session().commit()
    flash("Note added.", "success")
    return _back(reference)


@bp.get("/audit")
@admin_required
def audit_trail():
    session = get_session()
    staff = list(session.scalars(select(StaffUser).order_by(StaffUser.name)))
    form = AuditFilterForm(request.args)
    form.staff.choices = options(
        [("", "Everyone")] + [(str(s.id), f"{s.name} ({s.email})") for s in staff]
    )
    form.validate()
    staff_id = reference = None
    if form.staff.data:
        if form.staff.data in {str(s.id) for s in staff}:
            staff_id = int(form.staff.data)
        else:
            form.staff.errors = ["Choose a staff member from the list"]
    if form.reference.data and not form.reference.errors:
        reference = reference_codes.parse(form.reference.data)
        if reference is None:
            form.reference.errors = ["Enter a reference like ABCD-EFGH-JKMN"]
    before = row_id(request.args.get("before"))
    page = audit.audit_page(session, staff_id=staff_id, reference=reference, before=before)
    filter_args = {
        name: form[name].data
        for name in ("staff", "reference")
        if form[name].data and not form[name].errors
    }
    return render_template(
        "staff/audit.html", form=form, page=page, before=before, filter_args=filter_args
    )


@bp.route("/export.csv", methods=["GET", "POST"])
@admin_required
def export_csv():
    _form, filters, _after = _queue_filters()
    session = get_session()
    now = now_utc()
    rows = list(
        intake_queue.iter_queue(
            session,
            filters=filters,
            viewer_id=g.staff.id,
            now=now,
            reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
        )
    )
    _record_after_reading(
        lambda: audit.record(
            session,
            action=Action.EXPORT,
            staff_id=g.staff.id,
            to_value=f"{len(rows)} rows",
            # The filters, but never the search text: it may be a patient's name.
            detail=(
                f"status={filters.status} referral={filters.referral} claim={filters.claim}"
                f" search={'yes' if filters.search else 'no'}"
            ),
            client_ip=client_ip(),
        )
    )
    lines = csv_export.rows_to_csv(
        [csv_export.HEADER] + [_csv_row(r) for r in rows],
    )
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return Response(
        "".join(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="intake-queue-{stamp}.csv"'},
    )


def _csv_row(r: intake_queue.QueueRow) -> list[object]:
    return [
        reference_codes.display(r.reference),
        r.status.value,
        _iso(r.submitted_at),
        _iso(r.reply_due),
        "yes" if r.overdue else "no",
        r.first_name,
        r.last_name,
        "referral" if r.has_referral else "self",
        "yes" if r.interpreter_needed else "no",
        r.claimed_by_name or "",
    ]


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")
