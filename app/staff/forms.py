"""Staff forms. Messages say what to do."""

from __future__ import annotations

from wtforms import PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.models import EMAIL_MAX, NAME_MAX
from app.services import reference_codes
from app.services.intake_queue import ClaimFilter, ReferralFilter, StatusFilter
from app.services.request_work import CLOSE_REASON_MISSING, NOTE_MAX, needs_close_reason
from app.services.staff_accounts import PASSWORD_MAX
from app.validation import NoControlCharacters, TrimmedForm
from app.vocabulary import CloseReason, RequestStatus


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value=value, label=label) for value, label in pairs]


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
    # Any status: whether this request may move there is the service's to say (and the
    # page, from the service, offers only the moves it allows).
    to_status = RadioField(
        "Move the request to",
        choices=options(RequestStatus.choices()),
        validate_choice=True,
        validators=[DataRequired("Choose the new status")],
    )
    close_reason = RadioField(
        "Reason for closing",
        choices=options(CloseReason.choices()),
        # Needed only when closing: checked in validate_close_reason.
        validate_choice=False,
    )
    status_note = TextAreaField(
        "Note (optional)",
        validators=[
            Optional(),
            Length(max=NOTE_MAX, message=f"Keep the note to {NOTE_MAX} characters or fewer"),
            NoControlCharacters(multiline=True),
        ],
    )

    def set_moves(self, moves: list[RequestStatus]) -> None:
        self.to_status.choices = options([(m.value, m.label) for m in moves])

    def validate_close_reason(self, field) -> None:
        if needs_close_reason(self.to_status.data) and field.data not in CloseReason.values():
            raise ValidationError(CLOSE_REASON_MISSING)


class QueueFilterForm(TrimmedForm):
    class Meta:
        csrf = False  # a GET search form: it changes nothing

    status = SelectField(
        "Status",
        choices=options(
            [
                (StatusFilter.OPEN.value, "Open (new and in progress)"),
                *RequestStatus.choices(),
                (StatusFilter.ALL.value, "All"),
            ]
        ),
        default=StatusFilter.OPEN.value,
    )
    referral = SelectField(
        "Referral",
        choices=options(
            [
                (ReferralFilter.ANY.value, "Referred or not"),
                (ReferralFilter.REFERRED.value, "Physician referral"),
                (ReferralFilter.SELF.value, "Self-referral"),
            ]
        ),
        default=ReferralFilter.ANY.value,
    )
    claim = SelectField(
        "Claimed",
        choices=options(
            [
                (ClaimFilter.ANY.value, "By anyone or nobody"),
                (ClaimFilter.MINE.value, "Claimed by me"),
                (ClaimFilter.UNCLAIMED.value, "Unclaimed"),
            ]
        ),
        default=ClaimFilter.ANY.value,
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
