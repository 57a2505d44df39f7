"""The journey's rules, all of them: which page a person may see, what each page asks,
what the whole form makes of a draft's answers, where a page sends them next, and what
sending stores. The views (``views.py``) only turn HTTP into these calls and their
answers back into pages and redirects.

One form class (``AppointmentRequestForm``) holds every question and rule. A page is
checked with the part of that form that asks the page's own questions and the earlier
answers their rules read (``form_asking``; ``app/requests/fields.py`` says which page
asks what), filled with the draft's answers: a rule that reads an answer from an earlier
page ("required for a caregiver") works unchanged, there is no second list of fields to
keep in step, and a page costs what its own questions cost (issue 28). Check your answers
and sending check the whole form, once.

What a page leads to is a value, never a URL: ``GoTo`` (a step, the start, Check your
answers), ``AlreadySent``, ``Confirmed``, or the page to show (``StepToShow``,
``AnswersToCheck``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from flask_babel import get_locale
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from app.common.i18n import _l
from app.mail import outbox
from app.public.forms import AppointmentRequestForm, form_asking
from app.public.submission import to_new_request
from app.public.wording import for_person, speak_to_patient
from app.requests import appointment_requests, drafts, journey_funnel
from app.requests.appointment_requests import NewRequest, Submitted
from app.requests.business_clock import BusinessClock
from app.requests.drafts import Draft
from app.requests.fields import (
    BY_NAME,
    FIELDS,
    STEPS,
    RequestField,
    Step,
    Stored,
    asked,
    is_kept,
    step_form_fields,
    step_questions,
)
from app.templating import long_date
from app.vocabulary import JourneyStage, Submitter

# Each page's heading, its title in the browser tab and in "Check your answers".
STEP_TITLES: dict[Step, object] = {
    Step.WHO: _l("Ask for a new-patient appointment"),
    Step.PATIENT: for_person(_l("About you"), _l("About the patient")),
    Step.CONTACT: for_person(_l("How to reach you"), _l("How to reach you and the patient")),
    Step.DIAGNOSIS: _l("The diagnosis"),
    Step.INSURANCE: _l("Insurance and referral"),
    Step.CONSENT: _l("Anything else, and your consent"),
}


def check_title(step: Step) -> object:
    """A step's heading on "Check your answers" (the first step's own heading greets)."""
    return _l("The person filling in the form") if step is Step.WHO else STEP_TITLES[step]


# Questions whose own label does not read well alone on the answers page.
_CHECK_LABELS: dict[str, object] = {
    "date_of_birth": for_person(_l("Your date of birth"), _l("The patient's date of birth")),
    "submitter_name": _l("Your full name"),
    "consent": _l("You agree to be contacted about this request"),
}


def step_from(name: str) -> Step | None:
    try:
        return Step(name)
    except ValueError:
        return None


def step_number(step: Step) -> int:
    return STEPS.index(step) + 1


def next_step(step: Step) -> Step | None:
    index = STEPS.index(step) + 1
    return STEPS[index] if index < len(STEPS) else None


def previous_step(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index - 1] if index > 0 else None


def typed_on(step: Step, posted: MultiDict) -> dict[str, str | list[str]]:
    """What one page sent, field by field: a question left unanswered is kept as empty,
    so that clearing an answer clears it."""
    typed: dict[str, str | list[str]] = {}
    for name in step_form_fields(step):
        values = posted.getlist(name)
        typed[name] = list(values) if _is_multiple(name) else (values[0] if values else "")
    return typed


def speak_to(answers: dict) -> None:
    """The pages' words speak to the patient once the patient says it is them."""
    speak_to_patient(answers.get("submitter") == Submitter.PATIENT)


def form_for(answers: dict, step: Step | None = None) -> AppointmentRequestForm:
    """The whole form, or the part that ``step`` asks, filled in with the answers (no CSRF
    field: every POST is checked by CSRFProtect before its view, and the pages carry the
    token themselves)."""
    data = MultiDict()
    for name, value in answers.items():
        for item in value if isinstance(value, list) else [value]:
            if item != "":
                data.add(name, item)
    form_class = AppointmentRequestForm if step is None else _page_form(step)
    return form_class(formdata=data, meta={"csrf": False})


def _page_form(step: Step) -> type[AppointmentRequestForm]:
    return form_asking(frozenset(step_form_fields(step)))


def check_step(step: Step, answers: dict) -> tuple[AppointmentRequestForm, bool]:
    """One page checked on the answers: its form, with only its own questions' problems,
    and whether it has none."""
    speak_to(answers)
    form = form_for(answers, step)
    form.validate()
    keep_only_errors_of(form, step)
    return form, not any(field.errors for field in form)


class Validity:
    """Which pages are free of problems, each checked when first asked about: a page that
    leads on checks itself and at most the pages its answers can change."""

    def __init__(self, answers: dict):
        self.answers = answers
        self._known: dict[Step, bool] = {}

    def __getitem__(self, step: Step) -> bool:
        if step not in self._known:
            self._known[step] = check_step(step, self.answers)[1]
        return self._known[step]


def check(answers: dict) -> tuple[AppointmentRequestForm, dict[Step, bool]]:
    """The form validated on the answers, and which pages are free of problems."""
    speak_to(answers)
    form = form_for(answers)
    form.validate()
    valid = {step: not any(form[name].errors for name in step_form_fields(step)) for step in STEPS}
    return form, valid


def keep_only_errors_of(form: AppointmentRequestForm, step: Step | None) -> None:
    """Clear every problem but those of ``step``'s questions (none when step is None)."""
    own = set(step_form_fields(step)) if step is not None else set()
    for field in form:
        if field.name not in own:
            field.errors = []


def reveal(question: str, block_id: str) -> dict[str, str]:
    """For the radios macro: each answer that opens ``question`` (its kept_when) shows the
    block of that id."""
    kept_when = BY_NAME[question].kept_when
    return dict.fromkeys(kept_when[1], block_id) if kept_when else {}


def questions_asked(step: Step, answers: dict) -> set[str]:
    return {f.name for f in step_questions(step) if asked(f, answers)}


def first_unchecked(checked: list[str]) -> Step | None:
    for step in STEPS:
        if step.value not in checked:
            return step
    return None


# Where a page leads ----------------------------------------------------------------------


class Place(enum.Enum):
    """The journey's pages that are not a step."""

    START = "start"  # where a browser without a draft begins: the first step, blank
    CHECK = "check"  # Check your answers


@dataclass(frozen=True)
class GoTo:
    """Send the person to another page (a 303: Back and reload never post again)."""

    page: Step | Place
    # Opened from Check your answers: the step goes back there once answered.
    changing: bool = False


@dataclass(frozen=True)
class AlreadySent:
    """This browser sent its request: every page of the journey says so."""

    reference: str


@dataclass(frozen=True)
class StepToShow:
    step: Step
    answers: dict
    # No draft: the first step, blank, the same page for every new visitor.
    blank: bool = False
    # Sent before: the page shows its problems.
    checked: bool = False

    @cached_property
    def form(self) -> AppointmentRequestForm:
        """The page's form, filled with the answers (and its own problems once sent), made
        when the page is rendered: a page kept from an earlier render needs none."""
        if self.checked:
            return check_step(self.step, self.answers)[0]
        speak_to(self.answers)
        return form_for(self.answers, self.step)

    @property
    def unanswered(self) -> bool:
        """Never sent and none of its questions answered: its page is the same for every
        draft with the same wording and the same questions asked (no answer, no problem
        on it), so it may be kept for them (views.py)."""
        return not self.checked and not any(
            self.answers.get(name) for name in step_form_fields(self.step)
        )


@dataclass(frozen=True)
class Saved:
    """A step's answers are kept (valid or not); ``begun`` is the key of the draft this
    page began, for the browser's cookie once it is stored."""

    go_to: GoTo
    begun: str | None = None


@dataclass(frozen=True)
class AnswersToCheck:
    form: AppointmentRequestForm
    answers: dict
    form_token: str


@dataclass(frozen=True)
class ReadyToSend:
    draft: Draft
    form: AppointmentRequestForm
    answers: dict


@dataclass(frozen=True)
class Confirmed:
    """Stored (now or before): the confirmation of ``reference``. ``changed``: a re-send
    whose answers differ; the first version stands (its history says what differs)."""

    reference: str
    changed: bool = False


def _draft(session: Session, key: str | None, now: datetime) -> Draft | None:
    """The browser's draft, unless it has none (a first visit: no database read at all)
    or it has expired."""
    return drafts.find(session, key, now=now) if key else None


def show_step(session: Session, *, key: str | None, step: Step, now: datetime):
    """A step as the person should see it, or where they should be instead: the start
    when there is no draft (for any step but the first), the first step not yet answered
    when it comes before this one, "you sent this" once sent."""
    draft = _draft(session, key, now)
    if draft is None:
        return StepToShow(step, {}, blank=True) if step is STEPS[0] else GoTo(Place.START)
    if draft.sent_reference:
        return AlreadySent(draft.sent_reference)
    checked = draft.checked_steps or []
    unchecked = first_unchecked(checked)
    if unchecked is not None and STEPS.index(unchecked) < STEPS.index(step):
        # A later page, before an earlier one is answered: the earlier one first.
        return GoTo(unchecked)
    # A page's problems show once it has been sent; before that it is just asked.
    return StepToShow(step, dict(draft.answers or {}), checked=step.value in checked)


def save_step(
    session: Session,
    *,
    key: str | None,
    step: Step,
    typed: dict[str, str | list[str]],
    changing: bool,
    now: datetime,
    keep: timedelta,
    origin: Callable[[], journey_funnel.Origin],
) -> Saved | GoTo:
    """Keep what one page sent in the draft (valid or not: it is shown again as typed),
    beginning the draft on the first page (counted in the journey's funnel under
    ``origin()``), and say where the person goes next."""
    draft = _draft(session, key, now)
    begun = None
    if draft is None:
        if step is not STEPS[0]:
            # The session ended (or the cookie was lost) before this page.
            return GoTo(Place.START)
        counted = journey_funnel.counted_under(origin())
        draft = drafts.start(session, now=now, keep=keep, funnel=counted)
        begun = draft.key
    elif draft.sent_reference:
        return GoTo(step)
    drafts.save_step(draft, step=step.value, typed=typed, now=now, keep=keep)
    valid = Validity(dict(draft.answers or {}))
    stage = journey_funnel.stage_after(step, valid=valid[step])
    if stage is None and begun is not None:
        # A draft is counted as begun even when its first page has a problem to fix.
        stage = JourneyStage.BEGAN
    go_to = _after(step, draft, valid, changing=changing)
    # What the page changed (and what _after forgot), with the stage, in one UPDATE.
    journey_funnel.reach(session, draft=draft, stage=stage)
    return Saved(go_to, begun)


def _after(step: Step, draft: Draft, valid: Validity, *, changing: bool) -> GoTo:
    """Where a page sends the person once its answers are kept (``valid``: each page's
    answers checked, as they are now)."""
    if not valid[step]:
        return GoTo(step, changing)
    if changing:
        # Back to the answers, unless the change opened a question elsewhere.
        for later in STEPS:
            if not valid[later]:
                drafts.forget_checked(draft, later.value)
                return GoTo(later, changing=True)
        return GoTo(Place.CHECK)
    following = next_step(step)
    if following is None:
        return GoTo(Place.CHECK)
    if following.value in (draft.checked_steps or []) and not valid[following]:
        # Answered before, but this page's answers now ask more of it (a caregiver's own
        # phone): shown without problems until it is sent again.
        drafts.forget_checked(draft, following.value)
    return GoTo(following)


def _finished(draft: Draft) -> GoTo | tuple[AppointmentRequestForm, dict]:
    """The whole form checked on the draft's answers (and the answers), or the page to
    finish before they can be checked or sent."""
    unchecked = first_unchecked(draft.checked_steps or [])
    if unchecked is not None:
        return GoTo(unchecked)
    answers = dict(draft.answers or {})
    form, valid = check(answers)
    for step in STEPS:
        if not valid[step]:
            return GoTo(step)
    return form, answers


def show_answers(session: Session, *, key: str | None, now: datetime):
    """Check your answers, or the page to finish first (or the start, or "you sent it")."""
    draft = _draft(session, key, now)
    if draft is None:
        return GoTo(Place.START)
    if draft.sent_reference:
        return AlreadySent(draft.sent_reference)
    finished = _finished(draft)
    if isinstance(finished, GoTo):
        return finished
    form, answers = finished
    return AnswersToCheck(form, answers, draft.form_token)


def ready_to_send(
    session: Session, *, key: str | None, token: str, stored: str | None, now: datetime
):
    """What sending this browser's draft with ``token`` would store, or what happens
    instead. Exactly once: the token of a stored request (``stored``, its reference: a
    double click, Back and send, a second tab, a retry after a lost answer) leads to that
    request's confirmation."""
    if stored is not None:
        return Confirmed(stored)
    draft = _draft(session, key, now)
    if draft is None:
        return GoTo(Place.START)
    if draft.sent_reference:
        return Confirmed(draft.sent_reference)
    if draft.form_token != token:
        # A page of an older draft: show this browser's current answers.
        return GoTo(Place.CHECK)
    finished = _finished(draft)
    if isinstance(finished, GoTo):
        return finished
    form, answers = finished
    return ReadyToSend(draft, form, answers)


def send(
    session: Session,
    ready: ReadyToSend,
    *,
    form_language: str,
    clock: BusinessClock,
    now: datetime,
    keep: timedelta,
) -> Confirmed:
    """Store the request, with its e-mail receipt, and empty the draft."""
    submitted = store_request(
        session,
        details=to_new_request(ready.form, form_language=form_language),
        token=ready.draft.form_token,
        clock=clock,
        now=now,
    )
    drafts.mark_sent(ready.draft, reference=submitted.reference, now=now, keep=keep)
    stage = JourneyStage.SENT if submitted.created else None
    journey_funnel.reach(session, draft=ready.draft, stage=stage)
    return Confirmed(submitted.reference, changed=submitted.changed)


def store_request(
    session: Session,
    *,
    details: NewRequest,
    token: str,
    clock: BusinessClock | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Store a request once per form token and queue its e-mail receipt (when an address
    was given) in the same transaction: committed together or not at all (issue 18)."""
    submitted = appointment_requests.submit_request(
        session, details=details, token=token, clock=clock, now=now
    )
    outbox.queue_confirmation(session, submitted=submitted, details=details)
    return submitted


@dataclass(frozen=True)
class AnswerRow:
    step: Step
    field: str  # the form field the Change link goes to
    label: object
    value: object


# Check your answers lists a page's answers in the order the page asks them. The question
# list (app/requests/fields.py) is in the staff's order, by section (a caregiver's own
# phone beside who filled in the form); the contact page asks about the patient first,
# phone before e-mail, then "You". Where a page keeps the list's order it is not named
# here; tests/public/test_journey.py compares every page with its answers.
_PAGE_ORDER: dict[Step, tuple[str, ...]] = {
    Step.CONTACT: (
        "phone", "email", "contact_method", "best_time_to_call", "language", "language_other",
        "interpreter_needed", "submitter_phone", "submitter_email", "call_first",
    ),
}  # fmt: skip
_ASKED_ORDER: tuple[RequestField, ...] = tuple(
    sorted(
        FIELDS,
        key=lambda f: (
            STEPS.index(f.step),
            _PAGE_ORDER[f.step].index(f.name) if f.step in _PAGE_ORDER else FIELDS.index(f),
        ),
    )
)


def answer_rows(form: AppointmentRequestForm, answers: dict) -> list[AnswerRow]:
    """Every answer that applies, page by page in the order each page asks it, as the
    answers page lists it."""
    rows = []
    for field in _ASKED_ORDER:
        if not asked(field, answers) or not is_kept(field, answers):
            continue
        form_field = form[field.form_field]
        label = _CHECK_LABELS.get(field.name, form_field.label.text)
        rows.append(AnswerRow(field.step, _anchor(form_field), label, _shown(form, field)))
    return rows


def _shown(form: AppointmentRequestForm, question: RequestField) -> object:
    field = form[question.form_field]
    if question.stored == Stored.DATE:
        born = form.birth_date()
        if not born:
            return ""
        # As typed in English (month first); Spanish readers get the month's name, so the
        # day and month cannot be read the other way round.
        return long_date(born) if str(get_locale()) != "en" else born.strftime("%m/%d/%Y")
    if field.type == "BooleanField":
        return _l("Yes") if field.data else _l("No")
    if field.type in ("RadioField", "SelectField"):
        labels = {str(value): label for value, label, *_ in field.iter_choices()}
        return labels.get(str(field.data), _l("Not given")) if field.data else _l("Not given")
    if field.type == "MultiCheckboxField":
        labels = {str(value): label for value, label, *_ in field.iter_choices()}
        chosen = [str(labels.get(v, v)) for v in field.data or []]
        return ", ".join(chosen) if chosen else _l("Not given")
    return field.data or _l("Not given")


def _anchor(field) -> str:
    if field.type in ("RadioField", "MultiCheckboxField"):
        return f"{field.id}-0"
    return field.id


def _is_multiple(name: str) -> bool:
    field = BY_NAME.get(name)
    return field is not None and field.stored == Stored.CODES
