"""The admins' forms: the audit trail's filters, the metrics' period, accounts and roles."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.common.forms import OptionalDateField, options
from app.common.validation import NoControlCharacters, TrimmedForm
from app.models import EMAIL_MAX, NAME_MAX, StaffRole
from app.requests import reference_codes
from app.requests.access_metrics import MAX_DAYS


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


ROLE_LABELS = {StaffRole.INTAKE: "Intake coordinator", StaffRole.ADMIN: "Intake admin"}


def _role_choices():
    return options([(r.value, ROLE_LABELS[r]) for r in StaffRole])


class NewAccountForm(TrimmedForm):
    email = StringField(
        "Email address",
        validators=[
            DataRequired("Enter the person's work email address"),
            Length(max=EMAIL_MAX, message=f"Use at most {EMAIL_MAX} characters"),
            NoControlCharacters(),
        ],
    )
    name = StringField(
        "Full name",
        validators=[
            DataRequired("Enter the person's full name"),
            Length(max=NAME_MAX, message=f"Use at most {NAME_MAX} characters"),
            NoControlCharacters(),
        ],
    )
    role = SelectField("Role", choices=_role_choices(), default=StaffRole.INTAKE.value)


class RoleForm(TrimmedForm):
    role = SelectField("Role", choices=_role_choices())
