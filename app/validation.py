"""Field rules shared by every form: trimming, control characters, names, phones, emails.

Messages say what to do, in plain words, so that they can be read aloud by a screen
reader next to the field they belong to.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import has_request_context, request
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField
from wtforms.validators import StopValidation, ValidationError

from .i18n import _l

_NAME_PUNCTUATION = frozenset(" -'.\u2019")  # space, hyphen, apostrophes, period
_MULTILINE_WHITESPACE = frozenset("\n\r\t")
# The validators' own messages, where a form gives none (translated when shown).
PHONE_MESSAGE = _l("Enter a phone number, like 813 555 0123")
EMAIL_MESSAGE = _l("Enter an email address, like name@example.com")


def strip_whitespace(value):
    return value.strip() if isinstance(value, str) else value


# The largest id an Integer column holds on PostgreSQL; a bigger number in a link is no row.
MAX_ROW_ID = 2**31 - 1


def row_id(value: str | None) -> int | None:
    """A row id from a query string (a page's ``after``/``before``), or None if it cannot
    be one: never a number the database would refuse."""
    if not value or len(value) > 10 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= MAX_ROW_ID else None


_SUBMIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_GIVEN = object()


class TrimmedForm(FlaskForm):
    """A form whose text inputs are trimmed before validation (passwords excepted)."""

    def __init__(self, formdata=_NOT_GIVEN, **kwargs):
        if formdata is _NOT_GIVEN:
            # Only the posted fields, never files or a JSON body (which Flask-WTF would
            # merge in): no form here takes a file, and an upload or a JSON list where text
            # is expected must read as "nothing typed", not reach a validator as an object.
            submitted = has_request_context() and request.method in _SUBMIT_METHODS
            formdata = (request.form or None) if submitted else None
        super().__init__(formdata=formdata, **kwargs)

    class Meta:
        def bind_field(self, form, unbound_field, options):
            filters = list(unbound_field.kwargs.get("filters", []))
            if not issubclass(unbound_field.field_class, PasswordField):
                filters.insert(0, strip_whitespace)
            return unbound_field.bind(form=form, filters=filters, **options)


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    for char in value:
        if multiline and char in _MULTILINE_WHITESPACE:
            continue
        if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn"):
            return True
        # Bidirectional overrides can make stored text read differently from what was
        # typed; no honest name or message needs them.
        if char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            return True
    return False


class NoControlCharacters:
    def __init__(self, *, multiline: bool = False, message: Any = None):
        self.multiline = multiline
        self.message = message or _l("Remove the special characters that cannot be stored")

    def __call__(self, form, field: Field) -> None:
        if isinstance(field.data, str) and has_control_characters(
            field.data, multiline=self.multiline
        ):
            raise StopValidation(self.message)


class PersonName:
    """Letters of any language, with spaces, hyphens, apostrophes and periods."""

    def __init__(self, message: str):
        self.message = message

    def __call__(self, form, field: Field) -> None:
        value = field.data or ""
        if not value:
            return
        has_letter = False
        for char in value:
            category = unicodedata.category(char)
            if category[0] == "L":
                has_letter = True
            elif category[0] == "M" or char in _NAME_PUNCTUATION:
                continue
            else:
                raise ValidationError(self.message)
        if not has_letter:
            raise ValidationError(self.message)


class PhoneNumber:
    """Any number a US phone can dial: parsed with the US as default region and kept
    in E.164 form on ``field.normalized``."""

    def __init__(self, message: Any = PHONE_MESSAGE):
        self.message = message

    def __call__(self, form, field: Field) -> None:
        field.normalized = None
        value = field.data or ""
        if not value:
            return
        normalized = normalize_phone(value)
        if normalized is None:
            raise ValidationError(self.message)
        field.normalized = normalized


def normalize_phone(value: str) -> str | None:
    if len(value) > 40:
        return None
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class EmailAddress:
    """Syntax only, no DNS; the normalized address is kept on ``field.normalized``."""

    def __init__(self, message: Any = EMAIL_MESSAGE):
        self.message = message

    def __call__(self, form, field: Field) -> None:
        field.normalized = None
        value = field.data or ""
        if not value:
            return
        try:
            result = validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            raise ValidationError(self.message) from None
        field.normalized = result.normalized


def npi_is_valid(npi: str) -> bool:
    """The NPI check digit: Luhn over the nine digits prefixed by 80840."""
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    # Double every other digit from the right of the payload (the check digit excluded).
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])
