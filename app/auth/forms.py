"""Forms of signing in, the second factor, identity checks, passwords and passkeys."""

from __future__ import annotations

from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from app.accounts.staff_accounts import PASSWORD_MAX, PASSWORD_MIN
from app.common.validation import TrimmedForm
from app.models import EMAIL_MAX, NAME_MAX

CODE_MAX = 20


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
    """The one-time link's form, for a link that sets a new password."""


class LinkPasswordForm(TrimmedForm):
    """The one-time link's form, for a link that sets up only the second factor: the
    account's password, so that the link alone (a forwarded e-mail) is not enough."""

    password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password"), Length(max=PASSWORD_MAX)],
    )


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


class PasskeyNameForm(TrimmedForm):
    name = StringField(
        "Name for this passkey",
        validators=[Length(max=NAME_MAX, message=f"Use at most {NAME_MAX} characters")],
    )


class SignInForm(TrimmedForm):
    email = StringField(
        "Email address",
        validators=[DataRequired("Enter your email address"), Length(max=EMAIL_MAX)],
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password"), Length(max=PASSWORD_MAX)],
    )
