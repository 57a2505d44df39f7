"""The coordinators' pages: the queue, my work, taking the next request, and a request
with everything done on it."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from app.audit import trail
from app.auth.access import admin_required, current_actor, login_required, staff_blueprint
from app.common.errors import DomainError, NotFound
from app.common.forms import ActionForm
from app.common.time import now_utc
from app.db import get_session
from app.error_pages import render_error
from app.intake.forms import (
    NoteForm,
    QueueFilterForm,
    ReopenForm,
    StatusForm,
    TakeNextForm,
    queue_filters,
)
from app.requests import held_notes, held_searches, intake_queue, reference_codes, request_work
from app.requests.business_clock import BusinessClock
from app.requests.intake_queue import InterpreterFilter, QueueFilters, ReferralFilter
from app.transactions import commits, read_only, record_after_reading
from app.vocabulary import AuditAction, CloseReason, RequestStatus

bp = staff_blueprint("intake", __name__)

# No copy of a staff page is kept anywhere: app/serving sends no-store on every view not
# declared @public_cache, and none here is (tests/serving/test_cache_control.py).


@bp.errorhandler(DomainError)
def _not_found_or_refused(error: DomainError):
    """The one place a service's refusal becomes a page: nothing of the attempt is kept;
    an unknown request is a 404, a refused change a message on the request's page."""
    get_session().rollback()
    if isinstance(error, NotFound):
        return render_error(404)
    flash(str(error), "error")
    reference = (request.view_args or {}).get("reference")
    return _back(reference) if reference else redirect(url_for(".queue"), code=303)


def clock() -> BusinessClock:
    return current_app.extensions["business_clock"]


@bp.get("/")
@login_required
@read_only
def index():
    return redirect(url_for(".queue"))


LINK_FILTERS = ("status", "referral", "interpreter", "form_language", "claim")
# The held search's token (app/requests/held_searches.py): it stands for the search
# words, which are never in an address.
SEARCH_ARG = "search"


def _filter_args(form: QueueFilterForm) -> dict[str, str]:
    """Filters safe to put in a link: never the search text."""
    return {
        name: form[name].data for name in LINK_FILTERS if form[name].data and not form[name].errors
    }


def _back_to_queue_args() -> dict[str, str]:
    """The queue's filters a request page was opened with (``?status=...``), checked, so
    "Back to the queue" returns to the same view, the held search's token with them.
    Never the search text."""
    form = QueueFilterForm(MultiDict({k: v for k, v in request.args.items() if k in LINK_FILTERS}))
    form.validate()
    args = {
        name: form[name].data
        for name in LINK_FILTERS
        if name in request.args and not form[name].errors
    }
    token = request.args.get(SEARCH_ARG, "")
    if token and len(token) <= held_searches.TOKEN_MAX and token.isascii():
        args[SEARCH_ARG] = token
    return args


@bp.get("/queue")
@login_required
@read_only
def queue():
    actor = current_actor()
    token = request.args.get(SEARCH_ARG) or None
    search = held_searches.find(get_session(), staff_id=actor.staff_id, token=token, now=now_utc())
    form, filters, after = queue_filters(search=search or "")
    return _render_queue(
        form, filters, after, token=token if search else None, lost=bool(token and not search)
    )


def _render_queue(form, filters, after, *, token=None, lost=False, code=200):
    actor = current_actor()
    page = intake_queue.queue_page(
        get_session(),
        filters=filters,
        viewer_id=actor.staff_id,
        now=now_utc(),
        after=after,
    )
    record_after_reading(
        lambda session: trail.record_queue_view(
            session, actor=actor, filters=filters, after=after, rows=len(page.rows)
        )
    )
    filter_args = _filter_args(form)
    link_args = dict(filter_args, **({SEARCH_ARG: token} if token else {}))
    return render_template(
        "intake/queue.html",
        form=form,
        filters=filters,
        page=page,
        after=after,
        filter_args=filter_args,
        link_args=link_args,
        search_token=token,
        search_lost=lost,
        filters_changed=any(form[name].data != form[name].default for name in LINK_FILTERS),
        now=now_utc(),
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
        clock_label=clock().zone_label,
    ), code


@bp.post("/queue")
@login_required
@commits
def search():
    """A search is posted (it may be a patient's name), held server-side and answered
    with a redirect to the results, an ordinary GET page: nothing typed goes into an
    address, and Back or reload never asks to send the form again."""
    form, filters, _after = queue_filters(search=None)
    if not ActionForm().validate_on_submit() or form.errors:
        # The only page answered to a POST: what was typed is wrong (too long...), and
        # putting it in an address to redirect would defeat the point.
        return _render_queue(form, QueueFilters(), None, code=400)
    args = _filter_args(form)
    if filters.search:
        args[SEARCH_ARG] = held_searches.hold(
            get_session(), staff_id=current_actor().staff_id, search=filters.search, now=now_utc()
        )
    return redirect(url_for(".queue", **args), code=303)


@bp.get("/my-work")
@login_required
@read_only
def my_work():
    now, actor = now_utc(), current_actor()
    work = request_work.my_work(get_session(), staff_id=actor.staff_id, now=now, clock=clock())
    # Like the queue's: a list of patients' names and phone numbers was shown.
    record_after_reading(
        lambda session: trail.record(
            session,
            action=AuditAction.MY_WORK_VIEW,
            actor=actor,
            to_value=f"{len(work.rows)} rows",
        )
    )
    return render_template("intake/my_work.html", work=work, now=now, clock=clock())


@bp.post("/next")
@login_required
@commits
def take_next():
    form = TakeNextForm()
    if not form.validate_on_submit():
        flash("The filters could not be read: choose them again and retry.", "error")
        return redirect(url_for(".queue"), code=303)
    return _open_next(
        referral=ReferralFilter(form.referral.data),
        interpreter=InterpreterFilter(form.interpreter.data),
    )


def _open_next(*, referral: ReferralFilter, interpreter: InterpreterFilter, saved: str = ""):
    """Claim the oldest waiting request (with these filters) and open it: "Take the next
    request", and the second half of "Save and take the next"."""
    reference = request_work.take_next(
        get_session(),
        actor=current_actor(),
        now=now_utc(),
        referral=referral,
        interpreter=interpreter,
    )
    args = {
        name: value.value
        for name, value in (("referral", referral), ("interpreter", interpreter))
        if value.value != "any"
    }
    if reference is None:
        flash(f"{saved}No unclaimed request needs action with these filters.", "info")
        return redirect(url_for(".queue", **args), code=303)
    flash(f"{saved}You have claimed this request: it is the oldest waiting.", "success")
    return redirect(url_for(".request_detail", reference=reference, **args), code=303)


def _render_request(reference: str, *, status_form=None, reopen_form=None, code=200):
    actor = current_actor()
    page = request_work.request_page(get_session(), reference=reference, actor=actor, now=now_utc())
    held = None
    if status_form is None:
        # A note that arrived after this person's session had ended: back in the box.
        held = held_notes.peek(
            get_session(), staff_id=actor.staff_id, reference=page.reference, now=now_utc()
        )

    def write(session: Session) -> None:
        request_work.record_view(session, page=page, actor=actor)
        if held is not None:
            held_notes.drop(session, staff_id=actor.staff_id, reference=page.reference)

    record_after_reading(write)
    if status_form is None:
        status_form = StatusForm(formdata=None)
        status_form.status_note.data = held
    status_form.set_moves(page.moves, page.request.status)
    if reopen_form is None:
        reopen_form = ReopenForm(formdata=None)
    return render_template(
        "intake/request.html",
        page=page,
        r=page.request,
        now=now_utc(),
        status_form=status_form,
        reopen_form=reopen_form,
        back_args=_back_to_queue_args(),
        clock=clock(),
        held_note=held is not None,
        form=status_form if status_form.errors else reopen_form if reopen_form.errors else None,
    ), code


@bp.get("/requests/<reference>")
@login_required
@read_only
def request_detail(reference: str):
    return _render_request(reference)


def _back(reference: str):
    return redirect(
        url_for(".request_detail", reference=reference, **_back_to_queue_args()), code=303
    )


@bp.post("/requests/<reference>/claim")
@login_required
@commits
def claim(reference: str):
    if ActionForm().validate_on_submit():
        request_work.claim(get_session(), reference=reference, actor=current_actor(), now=now_utc())
        flash("You have claimed this request.", "success")
    return _back(reference)


@bp.post("/requests/<reference>/release")
@login_required
@commits
def release(reference: str):
    if ActionForm().validate_on_submit():
        request_work.release(get_session(), reference=reference, actor=current_actor())
        flash("You have released this request back to the queue.", "success")
    return _back(reference)


@bp.post("/requests/<reference>/status")
@login_required
@commits
def change_status(reference: str):
    form = StatusForm()
    if not form.validate_on_submit():
        return _render_request(reference, status_form=form, code=400)
    if not form.to_status.data:
        request_work.add_note(
            get_session(), reference=reference, actor=current_actor(), note=form.status_note.data
        )
        return _saved(reference, "Note added.")
    to_status = RequestStatus(form.to_status.data)
    callback_at = None
    if form.callback_date.data is not None:
        at = form.callback_time.data or clock().opens
        callback_at = datetime.combine(form.callback_date.data, at, tzinfo=clock().zone)
    request_work.change_status(
        get_session(),
        reference=reference,
        actor=current_actor(),
        to_status=to_status,
        close_reason=CloseReason(form.close_reason.data) if form.close_reason.data else None,
        note=form.status_note.data or None,
        now=now_utc(),
        callback_at=callback_at,
        appointment_on=form.appointment_date.data,
        clock=clock(),
    )
    return _saved(reference, f"Saved: the request is now {to_status.label.lower()}.")


def _saved(reference: str, message: str):
    """After Save, back to the request; after "Save and take the next", the next one,
    claimed in the same transaction (one POST: the save and the claim, with their history
    and audit rows, are kept together or not at all)."""
    if request.form.get("then") != "next":
        flash(message, "success")
        return _back(reference)
    args = _back_to_queue_args()
    return _open_next(
        referral=ReferralFilter(args.get("referral", ReferralFilter.ANY.value)),
        interpreter=InterpreterFilter(args.get("interpreter", InterpreterFilter.ANY.value)),
        saved=f"{reference_codes.display(reference)}: {message} ",
    )


@bp.post("/requests/<reference>/reopen")
@admin_required
@commits
def reopen(reference: str):
    form = ReopenForm()
    if not form.validate_on_submit():
        return _render_request(reference, reopen_form=form, code=400)
    request_work.reopen(
        get_session(), reference=reference, actor=current_actor(), reason=form.reason.data
    )
    flash("The request is open again.", "success")
    return _back(reference)


@bp.post("/requests/<reference>/notes")
@login_required
@commits
def add_note(reference: str):
    form = NoteForm()
    if not form.validate_on_submit():
        # The page's one box shows what was typed and what is wrong.
        status_form = StatusForm(formdata=None)
        status_form.status_note.data = form.note.data
        status_form.status_note.errors = list(form.note.errors)
        return _render_request(reference, status_form=status_form, code=400)
    request_work.add_note(
        get_session(), reference=reference, actor=current_actor(), note=form.note.data
    )
    flash("Note added.", "success")
    return _back(reference)
