"""The journey's rules, between the views and the draft: which page comes next, which
questions a page asks, and what the whole form makes of a draft's answers.

One form class (``AppointmentRequestForm``) holds every question and rule. A page is
checked by filling that form with the draft's answers and what the page just sent, and
keeping only the problems of the page's own questions (``app/requests/fields.py`` says
which page asks what): a rule that reads an answer from an earlier page ("required for a
caregiver") works unchanged, and there is no second list of fields to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import get_locale
from werkzeug.datastructures import MultiDict

from app.common.i18n import _l
from app.public.forms import AppointmentRequestForm
from app.public.wording import for_person, speak_to_patient
from app.requests.fields import (
    BY_NAME,
    FIELDS,
    STEPS,
    Step,
    Stored,
    asked,
    is_kept,
    step_form_fields,
    step_questions,
)
from app.templating import long_date
from app.vocabulary import Submitter

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
    "dob_month": for_person(_l("Your date of birth"), _l("The patient's date of birth")),
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


def form_for(answers: dict, **extra) -> AppointmentRequestForm:
    """The whole form, filled in with the answers (no CSRF field: every POST is checked by
    CSRFProtect before its view, and the pages carry the token themselves)."""
    data = MultiDict()
    for name, value in {**answers, **extra}.items():
        for item in value if isinstance(value, list) else [value]:
            if item != "":
                data.add(name, item)
    return AppointmentRequestForm(formdata=data, meta={"csrf": False})


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


@dataclass(frozen=True)
class AnswerRow:
    step: Step
    field: str  # the form field the Change link goes to
    label: object
    value: object


def answer_rows(form: AppointmentRequestForm, answers: dict) -> list[AnswerRow]:
    """Every answer that applies, in the form's order, as the answers page lists it."""
    rows = []
    for field in FIELDS:
        if not asked(field, answers) or not is_kept(field, answers):
            continue
        form_field = form[field.form_field]
        label = _CHECK_LABELS.get(field.name, form_field.label.text)
        rows.append(AnswerRow(field.step, _anchor(form_field), label, _shown(form, field.name)))
    return rows


def _shown(form: AppointmentRequestForm, name: str) -> object:
    field = form[name]
    if name == "dob_month":
        born = form.date_of_birth
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
