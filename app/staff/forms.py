"""Staff forms. Messages say what to do."""

from __future__ import annotations

from wtforms import (
    DateField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.models import EMAIL_MAX, NAME_MAX
from app.services import reference_codes
from app.services.access_metrics import MAX_DAYS
from app.services.intake_queue import (
    ClaimFilter,
    FormLanguageFilter,
    InterpreterFilter,
    ReferralFilter,
    StatusFilter,
)
from app.services.request_work import (
    APPOINTMENT_MISSING,
    CLOSE_REASON_MISSING,
    NOTE_MAX,
    REOPEN_REASON_MISSING,
    needs_close_reason,
)
from app.services.staff_accounts import PASSWORD_MAX
from app.validation import NoControlCharacters, TrimmedForm
from app.vocabulary import CloseReason, RequestStatus


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value=value, label=label) for value, label in pairs]


# WTForms' own "Not a valid choice." does not say what to do.
NOT_OFFERED = "Choose one of the options shown (the page may have changed: reload it)"
DATE_FORMAT = "Enter the date as shown, for example 2026-12-03"
TIME_FORMAT = "Enter the time as shown, for example 14:30"


class _Blankable:
    """A date or time input that may be left empty; a value it cannot read gets a
    message that says what to type, instead of WTForms' "Not a valid date value"."""

    message: str

    def process_formdata(self, valuelist):
        if not valuelist or not " ".join(valuelist).strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(self.message) from None


class OptionalDateField(_Blankable, DateField):
    message = DATE_FORMAT


class OptionalTimeField(_Blankable, TimeField):
    message = TIME_FORMAT


class SignInForm(TrimmedForm):
    email = StringField(
        "Email address",
        validators=[DataRequired("Enter your email address"), Length(max=EMAIL_MAX)],
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password"), Length(max=PASSWORD_MAX)],
    )


class ActionForm(TrimmedForm):
    """A button that changes something: only its CSRF token."""


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
            (StatusFilter.OPEN.value, "Needing action (not closed)"),
            (StatusFilter.OVERDUE.value, "Overdue (not yet contacted, reply past due)"),
            *RequestStatus.choices(),
            (StatusFilter.ALL.value, "All"),
        ],
        StatusFilter.OPEN.value,
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


class AuditFilterForm(TrimmedForm):
    class Meta:
        csrf = False

    # The view gives the choices: everyone who has an account.
    staff = SelectField("Staff member", choices=[], validate_choice=False)
    reference = StringField(
        "Request reference",
        validators=[Optional(), Length(max=20, message="Enter a reference like ABCD-EFGH-JKMN")],
    )

    # Filled in by validation: what to filter by.
    parsed_reference: str | None = None

    def validate_staff(self, field) -> None:
        if field.data and field.data not in {choice.value for choice in field.choices}:
            raise ValidationError("Choose a staff member from the list")

    def validate_reference(self, field) -> None:
        if field.errors:
            return
        self.parsed_reference = reference_codes.parse(field.data)
        if self.parsed_reference is None:
            raise ValidationError("Enter a reference like ABCD-EFGH-JKMN")

    @property
    def staff_id(self) -> int | None:
        return int(self.staff.data) if self.staff.data and not self.staff.errors else None


class MetricsForm(TrimmedForm):
    class Meta:
        csrf = False  # a GET form: it changes nothing

    start = OptionalDateField("From", format="%Y-%m-%d")
    end = OptionalDateField("To", format="%Y-%m-%d")

    def validate_end(self, field) -> None:
        if field.errors or self.start.errors or not (field.data and self.start.data):
            return
        if field.data < self.start.data:
            raise ValidationError("Choose an end date on or after the start date")
        if (field.data - self.start.data).days >= MAX_DAYS:
            raise ValidationError(f"Choose a period of at most {MAX_DAYS} days")
