"""The coordinators' forms: notes, status moves, reopening, taking the next request and
the queue's filters. Messages say what to do."""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import MultiDict
from wtforms import (
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.common.forms import NOT_OFFERED, OptionalDateField, OptionalTimeField, options
from app.common.validation import NoControlCharacters, TrimmedForm, row_id
from app.models import NAME_MAX
from app.requests.intake_queue import (
    ClaimFilter,
    FormLanguageFilter,
    InterpreterFilter,
    QueueFilters,
    ReferralFilter,
    StatusFilter,
)
from app.requests.request_work import (
    APPOINTMENT_MISSING,
    CLOSE_REASON_MISSING,
    NOTE_MAX,
    REOPEN_REASON_MISSING,
    needs_close_reason,
)
from app.vocabulary import CloseReason, RequestStatus


class NoteForm(TrimmedForm):
    note = TextAreaField(
        "Note",
        validators=[
            DataRequired("Write the note before you add it"),
            Length(max=NOTE_MAX, message=f"Keep the note to {NOTE_MAX} characters or fewer"),
            NoControlCharacters(multiline=True),
        ],
    )


class StatusForm(TrimmedForm):
    """The request page's one form: a note, and optionally a new status with what it
    needs (a callback time, an appointment date, a reason for closing)."""

    # Any status: whether this request may move there is the service's to say (and the
    # page, from the service, offers only the moves it allows). Empty: keep the status.
    to_status = RadioField(
        "Status",
        choices=options(RequestStatus.choices()),
        validate_choice=True,
        invalid_choice_message=NOT_OFFERED,
        validators=[Optional()],
    )
    callback_date = OptionalDateField("Call back on (optional)", format="%Y-%m-%d")
    callback_time = OptionalTimeField("At (optional)", format="%H:%M")
    appointment_date = OptionalDateField("Appointment date", format="%Y-%m-%d")
    close_reason = RadioField(
        "Reason for closing",
        choices=options(CloseReason.choices()),
        # Needed only when closing: checked in validate_close_reason.
        validate_choice=False,
    )
    status_note = TextAreaField(
        "Note",
        validators=[
            Length(max=NOTE_MAX, message=f"Keep the note to {NOTE_MAX} characters or fewer"),
            NoControlCharacters(multiline=True),
        ],
    )

    def set_moves(self, moves: list[RequestStatus], current: RequestStatus) -> None:
        self.to_status.choices = options(
            [("", f"Keep it {current.label.lower()}")] + [(m.value, m.label) for m in moves]
        )

    def validate_close_reason(self, field) -> None:
        if needs_close_reason(self.to_status.data) and field.data not in CloseReason.values():
            raise ValidationError(CLOSE_REASON_MISSING)

    def validate_appointment_date(self, field) -> None:
        if (
            self.to_status.data == RequestStatus.SCHEDULED
            and field.data is None
            and not field.errors
        ):
            raise ValidationError(APPOINTMENT_MISSING)

    def validate_callback_time(self, field) -> None:
        if field.data is not None and self.callback_date.data is None and not field.errors:
            raise ValidationError("Enter the callback date as well as the time")

    def validate_status_note(self, field) -> None:
        if not self.to_status.data and not field.data:
            raise ValidationError("Write a note, or choose a new status")


class ReopenForm(TrimmedForm):
    reason = TextAreaField(
        "Why reopen it",
        validators=[
            DataRequired(REOPEN_REASON_MISSING),
            Length(max=NOTE_MAX, message=f"Keep the reason to {NOTE_MAX} characters or fewer"),
            NoControlCharacters(multiline=True),
        ],
    )


class TakeNextForm(TrimmedForm):
    """Take the next request, with the queue's referral and interpreter filters."""

    referral = SelectField(
        "Referral",
        choices=options([(f.value, f.value) for f in ReferralFilter]),
        default=ReferralFilter.ANY.value,
        invalid_choice_message=NOT_OFFERED,
    )
    interpreter = SelectField(
        "Interpreter",
        choices=options([(f.value, f.value) for f in InterpreterFilter]),
        default=InterpreterFilter.ANY.value,
        invalid_choice_message=NOT_OFFERED,
    )


def _queue_filter(label: str, choices: list[tuple[str, str]], default: str) -> SelectField:
    return SelectField(
        label, choices=options(choices), default=default, invalid_choice_message=NOT_OFFERED
    )


class QueueFilterForm(TrimmedForm):
    class Meta:
        csrf = False  # a GET search form: it changes nothing

    status = _queue_filter(
        "Status",
        [
            (StatusFilter.NOT_CLOSED.value, "Needing action (not closed)"),
            (StatusFilter.OVERDUE.value, "Overdue (not yet contacted, reply past due)"),
            *RequestStatus.choices(),
            (StatusFilter.ALL.value, "All"),
        ],
        StatusFilter.NOT_CLOSED.value,
    )
    referral = _queue_filter(
        "Referral",
        [
            (ReferralFilter.ANY.value, "Referred or not"),
            (ReferralFilter.REFERRED.value, "Physician referral"),
            (ReferralFilter.SELF.value, "Self-referral"),
        ],
        ReferralFilter.ANY.value,
    )
    interpreter = _queue_filter(
        "Interpreter",
        [
            (InterpreterFilter.ANY.value, "Needed or not"),
            (InterpreterFilter.NEEDED.value, "Interpreter needed"),
            (InterpreterFilter.NOT_NEEDED.value, "No interpreter needed"),
        ],
        InterpreterFilter.ANY.value,
    )
    form_language = _queue_filter(
        "Form language",
        [
            (FormLanguageFilter.ANY.value, "English or Spanish"),
            (FormLanguageFilter.ENGLISH.value, "Sent in English"),
            (FormLanguageFilter.SPANISH.value, "Sent in Spanish"),
        ],
        FormLanguageFilter.ANY.value,
    )
    claim = _queue_filter(
        "Claimed",
        [
            (ClaimFilter.ANY.value, "By anyone or nobody"),
            (ClaimFilter.MINE.value, "Claimed by me"),
            (ClaimFilter.UNCLAIMED.value, "Unclaimed"),
        ],
        ClaimFilter.ANY.value,
    )
    q = StringField(
        "Reference or patient name",
        validators=[
            Optional(),
            Length(max=NAME_MAX, message=f"Search for at most {NAME_MAX} characters"),
            NoControlCharacters(),
        ],
    )


def _filter_values(search: str | None) -> MultiDict:
    """The queue's filters from the query string, and the search words from the held
    search (``search``) when there is one; a ``q`` typed into an address is ignored. With
    ``search`` None, the posted search form's fields."""
    if search is None:
        return request.form
    values = MultiDict(request.args)
    values.pop("q", None)
    if search:
        values["q"] = search
    return values


def queue_filters(*, search: str | None) -> tuple[QueueFilterForm, QueueFilters, int | None]:
    values = _filter_values(search)
    form = QueueFilterForm(values)
    after = row_id(values.get("after"))
    if not form.validate():
        # Unknown values fall back to the default view, and the form says what was wrong.
        return form, QueueFilters(), None
    filters = QueueFilters(
        status=StatusFilter(form.status.data),
        referral=ReferralFilter(form.referral.data),
        claim=ClaimFilter(form.claim.data),
        interpreter=InterpreterFilter(form.interpreter.data),
        form_language=FormLanguageFilter(form.form_language.data),
        search=form.q.data or "",
    )
    return form, filters, after
