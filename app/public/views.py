from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)

from app import serving
from app.db import DATABASE_UNAVAILABLE, discard_session, get_session
from app.models import RequestDraft
from app.public import journey
from app.public.forms import AppointmentRequestForm
from app.public.resend import is_resend_of_stored_request
from app.public.submission import to_new_request
from app.requests import appointment_requests, drafts, journey_funnel, reference_codes
from app.requests.fields import STEPS, Step, step_form_fields
from app.serving.language import language_of
from app.vocabulary import JourneyStage

bp = Blueprint("public", __name__)

# How many confirmations one browser can reopen; older ones fall off.
_REMEMBERED_REFERENCES = 5
# Browsers and proxies may keep the information page this long before asking again; when
# they ask, an unchanged page costs a 304.
_INFORMATION_MAX_AGE = 300
_FAVICON_MAX_AGE = 86400
# The session cookie's name for the draft's key (the key only: the answers stay on the
# server, app/requests/drafts.py).
_DRAFT = "draft"
# The query word on a page opened from "Check your answers": after it, back there.
_CHANGING = "check"


@bp.context_processor
def _information_reviewed() -> dict:
    # A configured date (YYYY-MM-DD, checked at start-up): the same for every visitor.
    return {"information_reviewed": date.fromisoformat(current_app.config["INFORMATION_REVIEWED"])}


@bp.get("/")
@serving.public_cache(max_age=_INFORMATION_MAX_AGE)
def information():
    return serving.information_page("public/information.html")


# The journey (issue 15): one page per step, then "Check your answers", then send.
# Every page is POST-redirect-GET: Back and reload never re-send anything.


@bp.get("/request-appointment")
@serving.same_for_new_visitors
def request_appointment():
    """Where the journey starts: its first step. A first visit gets it blank, with no token
    and no cookie: the same page for every new visitor, so the replay answers it
    (serving/replay.py); a browser with a draft gets it with its answers (the browser's
    Back from the second step lands here)."""
    return journey_step(STEPS[0].value)


@bp.get("/request-appointment/<step>")
def journey_step(step: str):
    this = journey.step_from(step)
    if this is None:
        abort(404)
    draft = _current_draft()
    if draft is None:
        if this is STEPS[0]:
            return _first_page()
        return redirect(url_for(".request_appointment"), code=303)
    if draft.sent_reference:
        return _already_sent(draft)
    checked = draft.checked_steps or []
    unchecked = journey.first_unchecked(checked)
    if unchecked is not None and STEPS.index(unchecked) < STEPS.index(this):
        # A later page, before an earlier one is answered: the earlier one first.
        return redirect(url_for(".journey_step", step=unchecked.value), code=303)
    answers = dict(draft.answers or {})
    form, _ = journey.check(answers)
    journey.keep_only_errors_of(form, this if this.value in checked else None)
    return _step_page(this, form, answers, changing=_changing())


@bp.post("/request-appointment/<step>")
# A post that begins a request came from a page without a token (the same blank page for
# every new visitor): the browser's Origin says whether it is ours. Once the browser holds a
# draft, the token as everywhere else (serving/cross_origin.py).
@serving.token_or_same_origin(begins=lambda: _current_draft_key() is None)
# Only a page that begins a request counts (DRAFT_RATE_LIMIT): going back and forth
# between the steps of one request never does.
@serving.draft_rate_limit(exempt_when=lambda: _current_draft_key() is not None)
def save_step(step: str):
    this = journey.step_from(step)
    if this is None:
        abort(404)
    now, keep = _now(), _keep()
    typed = journey.typed_on(this, request.form)
    db = get_session()
    try:
        draft = _current_draft()
        if draft is None:
            if this is not STEPS[0]:
                # The session ended (or the cookie was lost) before this page.
                return redirect(url_for(".request_appointment"), code=303)
            draft = drafts.start(db, now=now, keep=keep)
            session[_DRAFT] = draft.key
            journey_funnel.begin(db, draft=draft, **_funnel_origin(now))
        elif draft.sent_reference:
            return redirect(url_for(".journey_step", step=this.value), code=303)
        drafts.save_step(draft, step=this.value, typed=typed, now=now, keep=keep)
        answers = dict(draft.answers or {})
        _, valid = journey.check(answers)
        target = _after(this, draft, valid, changing=_changing())
        journey_funnel.reach(
            db, draft=draft, stage=journey_funnel.stage_after(this, valid=valid[this])
        )
        db.commit()
    except DATABASE_UNAVAILABLE:
        # Nothing kept: the page again, as typed, saying so. Sending it again is safe.
        current_app.logger.warning("journey page not saved: database unavailable", exc_info=True)
        discard_session()
        answers = dict(typed)
        form, _ = journey.check(answers)
        journey.keep_only_errors_of(form, None)
        return _step_page(this, form, answers, changing=_changing(), not_saved=True), 503
    return redirect(target, code=303)


@bp.get("/request-appointment/check")
def check_answers():
    draft = _current_draft()
    if draft is None:
        return redirect(url_for(".request_appointment"), code=303)
    if draft.sent_reference:
        return _already_sent(draft)
    redirect_to = _unfinished_page(draft)
    if redirect_to is not None:
        get_session().commit()
        return redirect(redirect_to, code=303)
    answers = dict(draft.answers or {})
    form, _ = journey.check(answers)
    return _check_page(form, answers, draft.form_token)


# Sending is the one POST that stores a request; it keeps the form's rate limit. A re-send
# of a stored request stores nothing: never counted, never refused.
@bp.post("/request-appointment/check")
@serving.form_rate_limit(exempt_when=is_resend_of_stored_request)
def send_request():
    if request.form.get("website", "").strip():
        return _pretend_to_accept()
    token = request.form.get("form_token", "")
    db = get_session()
    clock = current_app.extensions["business_clock"]
    answers: dict | None = None
    try:
        # Exactly once: the token of a stored request (a double click, Back and send, a
        # second tab, a retry after a lost answer) leads to that request's confirmation.
        stored = appointment_requests.reference_for_token(db, token=token)
        draft = _current_draft() if stored is None else None
        if stored is None and draft is not None and draft.sent_reference:
            stored = draft.sent_reference
        if stored is not None:
            _remember(stored)
            return redirect(url_for(".confirmation", reference=stored), code=303)
        if draft is None:
            return redirect(url_for(".request_appointment"), code=303)
        if draft.form_token != token:
            # A page of an older draft: show this browser's current answers.
            return redirect(url_for(".check_answers"), code=303)
        redirect_to = _unfinished_page(draft)
        if redirect_to is not None:
            db.commit()
            return redirect(redirect_to, code=303)
        answers = dict(draft.answers or {})
        form, _ = journey.check(answers)
        submitted = appointment_requests.submit_request(
            db, details=to_new_request(form), token=draft.form_token, clock=clock
        )
        drafts.mark_sent(draft, reference=submitted.reference, now=_now(), keep=_keep())
        if submitted.created:
            journey_funnel.reach(db, draft=draft, stage=JourneyStage.SENT)
        db.commit()
    except DATABASE_UNAVAILABLE:
        # The same draft (same token) sent again stores one request, so asking the person
        # to send it again is safe even if this commit did reach the database.
        current_app.logger.warning("request not saved: database unavailable", exc_info=True)
        discard_session()
        if answers is None:
            return render_template("public/not_saved.html"), 503
        form, _ = journey.check(answers)
        return _check_page(form, answers, token, status=503, not_saved=True)
    _remember(submitted.reference)
    if submitted.changed:
        return _first_version_kept(submitted.reference)
    return redirect(url_for(".confirmation", reference=submitted.reference), code=303)


@bp.post("/request-appointment/new")
def start_new_request():
    """A deliberate new request after one was sent: the next pages start empty."""
    session.pop(_DRAFT, None)
    return redirect(url_for(".request_appointment"), code=303)


@bp.get("/request-appointment/received/<reference>")
def confirmation(reference: str):
    # Only the browser that sent the request sees it; anyone else gets the same page for
    # any reference, real or not, with nothing about the request.
    config = current_app.config
    if reference not in session.get("submitted_references", []):
        return render_template("public/about_a_request.html")
    return render_template(
        "public/confirmation.html",
        reference=reference_codes.display(reference),
        reply_days=config["REPLY_BUSINESS_DAYS"],
        callback_phone=config["CENTER_CALLBACK_PHONE"],
        callback_hours=config[
            "CALLBACK_HOURS_ES" if language_of(request.environ) == "es" else "CALLBACK_HOURS"
        ],
    )


# -- the journey's pieces --------------------------------------------------------------


def _first_page():
    """The first step, blank, for a browser with no draft. Without a draft key it carries
    no token and reads nothing the visitor sent: the page shared with every new visitor."""
    context = _step_context(STEPS[0], {}, changing=False)
    form = journey.form_for({})
    if context["begins_request"]:
        return serving.shared_page("public/step_who.html", form=form, **context)
    return render_template("public/step_who.html", form=form, **context)


def _step_page(step: Step, form: AppointmentRequestForm, answers: dict, **context):
    context = {**_step_context(step, answers, changing=context.pop("changing")), **context}
    return render_template(f"public/step_{step.value}.html", form=form, **context)


def _step_context(step: Step, answers: dict, *, changing: bool) -> dict:
    journey.speak_to(answers)
    before = journey.previous_step(step)
    if changing:
        back = url_for(".check_answers")
    elif before is not None:
        back = url_for(".journey_step", step=before.value)
    else:
        back = url_for(".information")
    return {
        "step": step,
        "number": journey.step_number(step),
        "total": len(STEPS),
        "title": journey.STEP_TITLES[step],
        "asks": journey.questions_asked(step, answers),
        "step_fields": step_form_fields(step),
        "reveal": journey.reveal,
        "for_patient": answers.get("submitter") == "patient",
        "action": url_for(".save_step", step=step.value, **_change_args(changing)),
        "back": back,
        "changing": changing,
        # No token on a page that begins a request (save_step checks its Origin instead).
        "begins_request": _current_draft_key() is None,
    }


def _check_page(form, answers: dict, token: str, status: int = 200, **context):
    journey.speak_to(answers)
    rows = journey.answer_rows(form, answers)
    sections = [(s, journey.check_title(s), [r for r in rows if r.step is s]) for s in STEPS]
    page = render_template(
        "public/check_answers.html", sections=sections, form_token=token, **context
    )
    return page, status


def _after(step: Step, draft: RequestDraft, valid: dict[Step, bool], *, changing: bool) -> str:
    """Where a page sends the person once its answers are kept."""
    if not valid[step]:
        return url_for(".journey_step", step=step.value, **_change_args(changing))
    if changing:
        # Back to the answers, unless the change opened a question elsewhere.
        for later in STEPS:
            if not valid[later]:
                drafts.forget_checked(draft, later.value)
                return url_for(".journey_step", step=later.value, change=_CHANGING)
        return url_for(".check_answers")
    following = journey.next_step(step)
    if following is None:
        return url_for(".check_answers")
    if not valid[following]:
        # Answered before, but this page's answers now ask more of it (a caregiver's own
        # phone): shown without problems until it is sent again.
        drafts.forget_checked(draft, following.value)
    return url_for(".journey_step", step=following.value)


def _unfinished_page(draft: RequestDraft) -> str | None:
    """The page to finish before the answers can be checked or sent, if any."""
    unchecked = journey.first_unchecked(draft.checked_steps or [])
    if unchecked is not None:
        return url_for(".journey_step", step=unchecked.value)
    _, valid = journey.check(dict(draft.answers or {}))
    for step in STEPS:
        if not valid[step]:
            return url_for(".journey_step", step=step.value)
    return None


def _already_sent(draft: RequestDraft):
    _remember(draft.sent_reference)
    return render_template(
        "public/already_sent.html",
        reference=reference_codes.display(draft.sent_reference),
        confirmation=url_for(".confirmation", reference=draft.sent_reference),
    )


def _current_draft_key() -> str | None:
    key = session.get(_DRAFT)
    return key if isinstance(key, str) else None


def _current_draft() -> RequestDraft | None:
    key = _current_draft_key()
    if key is None:
        # A first visit: no draft to look for, so no database session either.
        return None
    return drafts.find(get_session(), key, now=_now())


def _funnel_origin(now: datetime) -> dict:
    """What a new draft is counted under in the journey's funnel: the center's date, the
    device class (from the User-Agent) and the page's language. Nothing that names anyone."""
    return {
        "day": current_app.extensions["business_clock"].today(now),
        "device": journey_funnel.device_class(request.user_agent.string),
        "language": language_of(request.environ),
    }


def _changing() -> bool:
    return request.args.get("change") == _CHANGING


def _change_args(changing: bool) -> dict:
    return {"change": _CHANGING} if changing else {}


def _now() -> datetime:
    return datetime.now(UTC)


def _keep() -> timedelta:
    return timedelta(hours=current_app.config["DRAFT_KEEP_HOURS"])


def _first_version_kept(reference: str):
    """The form was sent again with different answers: the first version stands, intake
    sees the differences on its history, and the person learns how to correct it."""
    return render_template(
        "public/resent.html",
        reference=reference_codes.display(reference),
        reply_days=current_app.config["REPLY_BUSINESS_DAYS"],
    )


def _pretend_to_accept():
    """The hidden "website" field is filled: a robot, since people never see it. Store
    nothing, but answer as if it worked, so the robot has no reason to try otherwise."""
    current_app.logger.info("bot trap: form discarded")
    reference = reference_codes.new_reference()
    _remember(reference)
    return redirect(url_for(".confirmation", reference=reference), code=303)


def _remember(reference: str) -> None:
    remembered = [r for r in session.get("submitted_references", []) if r != reference]
    session["submitted_references"] = (remembered + [reference])[-_REMEMBERED_REFERENCES:]


# The same for everyone; a browser keeps it a day.
@bp.get("/favicon.ico")
@serving.public_cache(max_age=_FAVICON_MAX_AGE)
def favicon():
    # Browsers ask for /favicon.ico on every first visit whatever the page says; without it
    # each visit logged a 404.
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=_FAVICON_MAX_AGE)
