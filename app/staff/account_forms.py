"""Forms of the second factor, identity checks, passwords and account management."""

from __future__ import annotations

from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.models import EMAIL_MAX, NAME_MAX, StaffRole
from app.services.staff_accounts import PASSWORD_MAX, PASSWORD_MIN
from app.validation import NoControlCharacters, TrimmedForm

from .forms import options

ROLE_LABELS = {StaffRole.INTAKE: "Intake coordinator", StaffRole.ADMIN: "Intake admin"}
CODE_MAX = 20


def _role_choices():
    return options([(r.value, ROLE_LABELS[r]) for r in StaffRole])


class CodeForm(TrimmedForm):
    code = StringField(
        "Code",
        validators=[
            DataRequired("Enter the 6-digit code from your authenticator app"),
            Length(max=CODE_MAX, message="Enter the 6-digit code from your authenticator app"),
        ],
    )


class ConfirmIdentityForm(TrimmedForm):
    secret = PasswordField(
        "Your password, or a code from your authenticator app",
        validators=[
            DataRequired("Enter your password or a 6-digit code from your authenticator app"),
            Length(max=PASSWORD_MAX),
        ],
    )


class _NewPasswordFields(TrimmedForm):
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired("Enter a new password"),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters",
            ),
        ],
    )
    confirm_password = PasswordField(
        "Type the new password again",
        validators=[
            DataRequired("Type the new password again"),
            EqualTo("new_password", message="The two new passwords are not the same"),
        ],
    )


class SetPasswordForm(_NewPasswordFields):
    """The one-time link's form."""


class ChangePasswordForm(_NewPasswordFields):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password"), Length(max=PASSWORD_MAX)],
    )
    code = StringField(
        "Code from your authenticator app (or a recovery code)",
        validators=[
            DataRequired("Enter the 6-digit code from your authenticator app"),
            Length(max=CODE_MAX, message="Enter the 6-digit code from your authenticator app"),
        ],
    )


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


class PasskeyNameForm(TrimmedForm):
    name = StringField(
        "Name for this passkey",
        validators=[Length(max=NAME_MAX, message=f"Use at most {NAME_MAX} characters")],
    )
