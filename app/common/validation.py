"""Field rules shared by every form: trimming, control characters, names, phones, emails,
ZIP codes, dates typed in three boxes.

Each value with a stored shape has one parser that returns it, typed, or the reason it
is not one (``parse_phone``, ``parse_email``, ``parse_zip``, ``date_from_boxes``): the
forms' validators turn the reason into a message, and the code that stores an answer
calls the same parser for its value. Nothing travels on the form's fields beside their
data. Messages say what to do, in plain words, so that they can be read aloud by a
screen reader next to the field they belong to.
"""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import phonenumbers
from babel import support
from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, request
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import Field, PasswordField
from wtforms.i18n import messages_path
from wtforms.meta import DefaultMeta
from wtforms.validators import StopValidation, ValidationError

from app.common.i18n import _l
from app.vocabulary import settled_locale

_NAME_PUNCTUATION = frozenset(" -'.\u2019")  # space, hyphen, apostrophes, period
_MULTILINE_WHITESPACE = frozenset("\n\r\t")
# The e-mail validator's own message, where a form gives none (translated when shown).
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


@functools.cache
def wtforms_catalog(locale: str) -> support.Translations:
    """WTForms' own messages ("Not a valid choice") in one language, read from disk once
    per process: Flask-WTF reads and parses the catalog again on every request whose form
    is checked (issue 28). Keyed by the page's locale, of which there are two."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


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
        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return DefaultMeta.get_translations(self, form)
            # The language Flask-Babel already settled for this request: through
            # get_locale() a quarter of building a page's form (issue 28).
            return wtforms_catalog(str(settled_locale() or get_locale()))

        def bind_field(self, form, unbound_field, options):
            filters = list(unbound_field.kwargs.get("filters", []))
            if not issubclass(unbound_field.field_class, PasswordField):
                filters.insert(0, strip_whitespace)
            return unbound_field.bind(form=form, filters=filters, **options)


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    # Printable ASCII (every address and most answers) has none: one C-level check
    # instead of a Unicode lookup per character. Tabs, line ends and DEL are not
    # "printable", so they take the full loop below.
    if value.isascii() and value.isprintable():
        return False
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


# An extension at the end of what was typed: "ext. 204", "ext204", "extension 204",
# "extensión 204", "x204", "#204", with or without a comma or colon. What comes before it
# is the number.
_EXTENSION = re.compile(
    r"^(?P<number>.*?)[\s,;]*(?:(?:extensi[oó]n|extn|ext|x)\.?\s*:?|\#)\s*(?P<ext>[0-9]+)\s*$",
    re.IGNORECASE,
)
EXTENSION_MAX = 10  # digits; the column's size (app/models.py)
PHONE_TYPED_MAX = 40


class PhoneProblem(enum.StrEnum):
    INVALID = "invalid"  # not a number a US phone can dial
    LETTERS = "letters"  # letters where digits belong ("813-555-CALL")
    EXTENSION_TOO_LONG = "extension_too_long"
    EXTENSION_NOT_ALLOWED = "extension_not_allowed"


@dataclass(frozen=True)
class ParsedPhone:
    number: str  # E.164
    extension: str | None  # digits only


def parse_phone(value: str, *, allow_extension: bool = True) -> ParsedPhone | PhoneProblem:
    """What was typed, as a number and an extension, or the reason it is not one.

    Letters are refused, never turned into digits: phonenumbers reads "CALL" as 2255, and
    a number someone did not type is a number nobody answers.
    """
    if len(value) > PHONE_TYPED_MAX:
        return PhoneProblem.INVALID
    extension = None
    match = _EXTENSION.match(value)
    if match and match.group("number").strip():
        value, extension = match.group("number"), match.group("ext")
    if any(unicodedata.category(char)[0] == "L" for char in value):
        return PhoneProblem.LETTERS
    if extension is not None and not allow_extension:
        return PhoneProblem.EXTENSION_NOT_ALLOWED
    if extension is not None and len(extension) > EXTENSION_MAX:
        return PhoneProblem.EXTENSION_TOO_LONG
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return PhoneProblem.INVALID
    if number.extension:
        # Only a marker with no letters is left ("813 555 0123 ;204" is not one): refuse
        # rather than guess which digits are the extension.
        return PhoneProblem.INVALID
    if not phonenumbers.is_valid_number(number):
        return PhoneProblem.INVALID
    return ParsedPhone(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), extension
    )


_PHONE_MESSAGES = {
    PhoneProblem.INVALID: _l("Enter a phone number, like 813 555 0123"),
    PhoneProblem.LETTERS: _l("Enter the phone number using digits, like 813 555 0123"),
    PhoneProblem.EXTENSION_TOO_LONG: _l("Enter an extension of 10 digits or fewer"),
    PhoneProblem.EXTENSION_NOT_ALLOWED: _l("Enter the number without an extension"),
}
_FAX_MESSAGES = {
    PhoneProblem.INVALID: _l("Enter a fax number, like 813 555 0199"),
    PhoneProblem.LETTERS: _l("Enter the fax number using digits, like 813 555 0199"),
    PhoneProblem.EXTENSION_TOO_LONG: _l("Enter the fax number without an extension"),
    PhoneProblem.EXTENSION_NOT_ALLOWED: _l("Enter the fax number without an extension"),
}


class PhoneNumber:
    """Any number a US phone can dial: parsed with the US as default region (E.164, and
    an extension's digits: ``parse_phone`` gives both to whoever stores them). A fax
    number has no extension."""

    def __init__(self, *, fax: bool = False):
        self.fax = fax
        self.messages = _FAX_MESSAGES if fax else _PHONE_MESSAGES

    def __call__(self, form, field: Field) -> None:
        value = field.data or ""
        if not value:
            return
        parsed = parse_phone(value, allow_extension=not self.fax)
        if isinstance(parsed, PhoneProblem):
            raise ValidationError(self.messages[parsed])


def normalize_phone(value: str) -> str | None:
    """A number in E.164 form, or None (letters and extensions are not numbers)."""
    parsed = parse_phone(value, allow_extension=False)
    return None if isinstance(parsed, PhoneProblem) else parsed.number


def phone_href(number: str | None, extension: str | None = None) -> str:
    """A tel: link that dials the extension too (RFC 3966: "tel:+18135550123;ext=204")."""
    if not number:
        return ""
    return f"tel:{number};ext={extension}" if extension else f"tel:{number}"


def parse_email(value: str) -> str | None:
    """The address as stored (its domain normalised, the local part as typed), or None
    when it is not one. Syntax only, no DNS."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


class EmailAddress:
    """An e-mail address, by ``parse_email``'s rule."""

    def __init__(self, message: Any = EMAIL_MESSAGE):
        self.message = message

    def __call__(self, form, field: Field) -> None:
        value = field.data or ""
        if value and parse_email(value) is None:
            raise ValidationError(self.message)


_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")


def parse_zip(value: str) -> str | None:
    """A ZIP code as stored: five digits, or ZIP+4 with its hyphen; None if it is not one."""
    match = _ZIP.match(value)
    if not match:
        return None
    return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")


class DateProblem(enum.StrEnum):
    MISSING = "missing"  # no box filled in
    INCOMPLETE = "incomplete"  # some boxes empty (date_missing_parts says which)
    NOT_A_DATE = "not_a_date"  # letters, too many digits, or no such day (30 February)
    SHORT_YEAR = "short_year"  # a year of fewer than 4 digits ("65")


DATE_PARTS = ("month", "day", "year")


def date_from_boxes(month: str, day: str, year: str) -> date | DateProblem:
    """The date three boxes (US order) make, or why they make none."""
    parts = (month, day, year)
    if not any(parts):
        return DateProblem.MISSING
    if not all(parts):
        return DateProblem.INCOMPLETE
    if not all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts):
        return DateProblem.NOT_A_DATE
    if len(year) != 4:
        return DateProblem.SHORT_YEAR
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return DateProblem.NOT_A_DATE


def date_missing_parts(month: str, day: str, year: str) -> tuple[str, ...]:
    """Which of the three boxes are empty, in order ("month", "day", "year")."""
    return tuple(n for n, v in zip(DATE_PARTS, (month, day, year), strict=True) if not v)


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
