from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    after_this_request,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)

from app import serving
from app.common.time import now_utc
from app.db import get_session
from app.public import journey
from app.public.forms import AppointmentRequestForm
from app.public.resend import is_resend_of_stored_request, stored_reference
from app.requests import journey_funnel, reference_codes
from app.requests.fields import STEPS, Step, step_form_fields
from app.serving.language import language_of
from app.transactions import commits, if_unavailable, read_only

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
@read_only
def information():
    return serving.information_page("public/information.html")


# The journey (issue 15): one page per step, then "Check your answers", then send. Its
# rules are app/public/journey.py's; these views turn HTTP into its calls and its answers
# into pages. Every page is POST-redirect-GET: Back and reload never re-send anything.


@bp.get("/request-appointment")
@serving.same_for_new_visitors
@read_only
def request_appointment():
    """Where the journey starts: its first step. A first visit gets it blank, with no token
    and no cookie: the same page for every new visitor, so the replay answers it
    (serving/replay.py); a browser with a draft gets it with its answers (the browser's
    Back from the second step lands here)."""
    return journey_step(STEPS[0].value)


@bp.get("/request-appointment/<step>")
@read_only
def journey_step(step: str):
    shown = journey.show_step(get_session(), key=_draft_key(), step=_step(step), now=_now())
    if not isinstance(shown, journey.StepToShow):
        return _answer(shown)
    if shown.blank:
        return _first_page()
    if shown.unanswered and not request.query_string:
        return _unanswered_step_page(shown)
    return _step_page(shown.step, shown.form, shown.answers, changing=_changing())


@bp.post("/request-appointment/<step>")
# A post that begins a request came from a page without a token (the same blank page for
# every new visitor): the browser's Origin says whether it is ours. Once the browser holds a
# draft, the token as everywhere else (serving/cross_origin.py).
@serving.token_or_same_origin(begins=lambda: _draft_key() is None)
# Only a page that begins a request counts (DRAFT_RATE_LIMIT): going back and forth
# between the steps of one request never does.
@serving.draft_rate_limit(exempt_when=lambda: _draft_key() is not None)
@commits
def save_step(step: str):
    this, changing = _step(step), _changing()
    typed = journey.typed_on(this, request.form)
    # Nothing kept: the page again, as typed, saying so. Sending it again is safe.
    if_unavailable(lambda: _not_saved_step(this, typed, changing=changing))
    saved = journey.save_step(
        get_session(),
        key=_draft_key(),
        step=this,
        typed=typed,
        changing=changing,
        now=_now(),
        keep=_keep(),
        origin=_funnel_origin,
    )
    if isinstance(saved, journey.GoTo):
        return _answer(saved)
    if saved.begun is not None:
        _remember_draft(saved.begun)
    return _answer(saved.go_to)


@bp.get("/request-appointment/check")
@read_only
def check_answers():
    shown = journey.show_answers(get_session(), key=_draft_key(), now=_now())
    if not isinstance(shown, journey.AnswersToCheck):
        return _answer(shown)
    return _check_page(shown.form, shown.answers, shown.form_token)


# Sending is the one POST that stores a request; it keeps the form's rate limit. A re-send
# of a stored request stores nothing: never counted, never refused.
@bp.post("/request-appointment/check")
@serving.form_rate_limit(exempt_when=is_resend_of_stored_request)
@commits
def send_request():
    if request.form.get("website", "").strip():
        return _pretend_to_accept()
    token = request.form.get("form_token", "")
    # The same draft (same token) sent again stores one request, so asking the person to
    # send it again is safe even if the commit did reach the database.
    if_unavailable(lambda: (render_template("public/not_saved.html"), 503))
    ready = journey.ready_to_send(
        get_session(), key=_draft_key(), token=token, stored=stored_reference(token), now=_now()
    )
    if not isinstance(ready, journey.ReadyToSend):
        return _answer(ready)
    # From here the answers are known: if the database fails, they are shown to check.
    if_unavailable(
        lambda: _check_page(ready.form, ready.answers, token, status=503, not_saved=True)
    )
    return _answer(
        journey.send(
            get_session(),
            ready,
            form_language=language_of(request.environ),
            clock=current_app.extensions["business_clock"],
            now=_now(),
            keep=_keep(),
        )
    )


@bp.post("/request-appointment/new")
@read_only
def start_new_request():
    """A deliberate new request after one was sent: the next pages start empty."""
    session.pop(_DRAFT, None)
    return redirect(url_for(".request_appointment"), code=303)


@bp.get("/request-appointment/received/<reference>")
@read_only
def confirmation(reference: str):
    # Only the browser that sent the request sees it; anyone else gets the same page for
    # any reference, real or not, with nothing about the request.
    config = current_app.config
    if reference not in session.get("submitted_references", []):
        return render_template("public/about_a_request.html")
    return render_template(
        "public/confirmation.html",
        reference=reference_codes.display(reference),
        raw_reference=reference,
        reply_days=config["REPLY_BUSINESS_DAYS"],
        callback_phone=config["CENTER_CALLBACK_PHONE"],
        callback_hours=config[
            "CALLBACK_HOURS_ES" if language_of(request.environ) == "es" else "CALLBACK_HOURS"
        ],
    )


# -- HTTP for the journey's answers -----------------------------------------------------


def _answer(outcome):
    """The page or redirect for what the journey says happens next."""
    if isinstance(outcome, journey.GoTo):
        return redirect(_url(outcome), code=303)
    if isinstance(outcome, journey.AlreadySent):
        return _already_sent(outcome.reference)
    if isinstance(outcome, journey.Confirmed):
        _remember(outcome.reference)
        if outcome.changed:
            return _first_version_kept(outcome.reference)
        return redirect(url_for(".confirmation", reference=outcome.reference), code=303)
    raise TypeError(f"no answer for {outcome!r}")


def _url(go_to: journey.GoTo) -> str:
    if go_to.page is journey.Place.START:
        return url_for(".request_appointment")
    if go_to.page is journey.Place.CHECK:
        return url_for(".check_answers")
    return url_for(".journey_step", step=go_to.page.value, **_change_args(go_to.changing))


def _step(name: str) -> Step:
    step = journey.step_from(name)
    if step is None:
        abort(404)
    return step


def _remember_draft(key: str) -> None:
    """The cookie names the draft only in an answer that says it was stored: after a 503
    (the commit failed) the browser holds no key to a draft that does not exist, so its
    resend of the first page begins again, checked as a beginning (by its Origin)."""

    @after_this_request
    def remember(response: Response) -> Response:
        if response.status_code < 400:
            session[_DRAFT] = key
        return response


def _first_page():
    """The first step, blank, for a browser with no draft. Without a draft key it carries
    no token and reads nothing the visitor sent: the page shared with every new visitor."""
    context = _step_context(STEPS[0], {}, changing=False)
    form = journey.form_for({}, STEPS[0])
    if context["begins_request"]:
        return serving.shared_page("public/step_who.html", form=form, **context)
    return render_template("public/step_who.html", form=form, **context)


def _step_page(step: Step, form: AppointmentRequestForm, answers: dict, **context):
    context = {**_step_context(step, answers, changing=context.pop("changing")), **context}
    return render_template(f"public/step_{step.value}.html", form=form, **context)


def _unanswered_step_page(shown: journey.StepToShow) -> str:
    """A page not answered yet is made once per address (and language) and per what the
    earlier answers change on it: its wording (the patient or a caregiver) and the
    questions it asks. It shows no answer and no problem, so every draft that reaches it
    the same way gets a copy, with its own CSRF token (issue 28: a page's rendering was
    half of what it cost)."""
    context = _step_context(shown.step, shown.answers, changing=False)
    part = (
        "unanswered journey page",
        context["for_patient"],
        frozenset(context["asks"]),
        context["begins_request"],
    )
    template = f"public/step_{shown.step.value}.html"
    return serving.page_with_own_token(
        part, lambda **token: render_template(template, form=shown.form, **context, **token)
    )


def _not_saved_step(step: Step, typed: dict, *, changing: bool):
    """A step whose answers could not be kept: the page again, as typed, saying so."""
    answers = dict(typed)
    journey.speak_to(answers)
    form = journey.form_for(answers, step)
    return _step_page(step, form, answers, changing=changing, not_saved=True), 503


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
        "begins_request": _draft_key() is None,
    }


def _check_page(form, answers: dict, token: str, status: int = 200, **context):
    journey.speak_to(answers)
    rows = journey.answer_rows(form, answers)
    sections = [(s, journey.check_title(s), [r for r in rows if r.step is s]) for s in STEPS]
    page = render_template(
        "public/check_answers.html", sections=sections, form_token=token, **context
    )
    return page, status


def _already_sent(reference: str):
    _remember(reference)
    return render_template(
        "public/already_sent.html",
        reference=reference_codes.display(reference),
        confirmation=url_for(".confirmation", reference=reference),
    )


def _funnel_origin() -> journey_funnel.Origin:
    """What a new draft is counted under in the journey's funnel: the center's date, the
    device class (from the User-Agent) and the page's language. Nothing that names anyone."""
    return journey_funnel.Origin(
        day=current_app.extensions["business_clock"].today(_now()),
        device=journey_funnel.device_class(request.user_agent.string),
        language=language_of(request.environ),
    )


def _draft_key() -> str | None:
    key = session.get(_DRAFT)
    return key if isinstance(key, str) else None


def _changing() -> bool:
    return request.args.get("change") == _CHANGING


def _change_args(changing: bool) -> dict:
    return {"change": _CHANGING} if changing else {}


def _now() -> datetime:
    return now_utc()


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
@read_only
def favicon():
    # Browsers ask for /favicon.ico on every first visit whatever the page says; without it
    # each visit logged a 404.
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=_FAVICON_MAX_AGE)
