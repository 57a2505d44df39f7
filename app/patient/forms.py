"""The private page's forms: the date of birth, asking for a link again, how to reach
them, sending records, and the release. Messages say what to do, in both languages."""

from __future__ import annotations

from datetime import date, timedelta

from wtforms import BooleanField, Field, RadioField, StringField
from wtforms.validators import Length, Optional, ValidationError

from app import models
from app.common.i18n import _l
from app.common.validation import (
    EmailAddress,
    NoControlCharacters,
    PersonName,
    PhoneNumber,
    TrimmedForm,
    parse_phone,
)
from app.public.forms import MultiCheckboxField, Required, RequiredWhen, options
from app.requests import reference_codes
from app.vocabulary import (
    BestTime,
    CallFirst,
    ContactMethod,
    DocumentKind,
    RecordHolder,
    Signer,
)

MAX_AGE_YEARS = 120


def _text(label, max_length: int, *validators, **kwargs) -> StringField:
    gates = [v for v in validators if isinstance(v, Required | RequiredWhen | Optional)]
    formats = [v for v in validators if v not in gates]
    return StringField(
        label,
        validators=[
            *gates,
            NoControlCharacters(),
            Length(
                max=max_length, message=_l("Use %(count)s characters or fewer", count=max_length)
            ),
            *formats,
        ],
        **kwargs,
    )


def typed_date(month: str | None, day: str | None, year: str | None) -> date | None:
    """A date from three boxes (US order), or None when it is not one."""
    parts = (month or "", day or "", year or "")
    if not all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts) or len(parts[2]) != 4:
        return None
    try:
        return date(int(parts[2]), int(parts[0]), int(parts[1]))
    except ValueError:
        return None


class DateOfBirthForm(TrimmedForm):
    dob_month = StringField(_l("Month"))
    dob_day = StringField(_l("Day"))
    dob_year = StringField(_l("Year"))
    born: date | None = None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        error = check_date_of_birth(self)
        if error is not None:
            self.dob_month.errors = list(self.dob_month.errors) + [error]
            return False
        return valid


def check_date_of_birth(form) -> object | None:
    """Sets ``form.born``; returns the message when the three boxes are not a birth date."""
    form.born = None
    parts = (form.dob_month.data, form.dob_day.data, form.dob_year.data)
    if not any(parts):
        return _l("Enter the patient's date of birth")
    born = typed_date(*parts)
    if born is None:
        return _l("Date of birth must be a real date, like 3 27 1965")
    today = date.today()
    if born >= today or today.year - born.year > MAX_AGE_YEARS:
        return _l("Date of birth must be a real date, like 3 27 1965")
    form.born = born
    return None


class LinkRequestForm(DateOfBirthForm):
    """Asking for a link again: the reference, the patient's date of birth, and an e-mail
    address or phone number given on the request."""

    reference = _text(
        _l("Reference number"),
        20,
        Required(_l("Enter the reference number, like K7QM-4XPD-9RTA")),
    )
    contact = _text(
        _l("An email address or phone number you gave us"),
        models.EMAIL_MAX,
        Required(_l("Enter the email address or phone number you gave us")),
    )
    parsed_reference: str | None = None
    normalized_contact: str | None = None

    def validate_reference(self, field: Field) -> None:
        self.parsed_reference = reference_codes.parse(field.data or "")
        if not self.parsed_reference:
            raise ValidationError(_l("Enter the reference number, like K7QM-4XPD-9RTA"))

    def validate_contact(self, field: Field) -> None:
        value = field.data or ""
        if "@" in value:
            EmailAddress()(self, field)
            self.normalized_contact = field.normalized
            return
        parsed = parse_phone(value, allow_extension=False)
        if isinstance(parsed, str):
            raise ValidationError(
                _l(
                    "Enter an email address, like name@example.com, or a phone number,"
                    " like 813 555 0123"
                )
            )
        self.normalized_contact = parsed.number


class ContactForm(TrimmedForm):
    phone = _text(
        _l("Patient's phone number"),
        40,
        Required(_l("Enter the patient's phone number")),
        PhoneNumber(),
    )
    email = _text(
        _l("Patient's email address (optional)"), models.EMAIL_MAX, Optional(), EmailAddress()
    )
    contact_method = RadioField(
        _l("How should we contact you?"),
        choices=options(ContactMethod.choices()),
        validators=[Required(_l("Select how we should contact you"))],
    )
    best_time_to_call = RadioField(
        _l("Best time to call"),
        choices=options(BestTime.choices()),
        validators=[Required(_l("Select the best time to call"))],
    )
    # A caregiver's request only (the view drops these for a patient's own).
    submitter_phone = _text(
        _l("Your phone number"), 40, Required(_l("Enter your phone number")), PhoneNumber()
    )
    submitter_email = _text(
        _l("Your email address (optional)"), models.EMAIL_MAX, Optional(), EmailAddress()
    )
    call_first = RadioField(
        _l("Who should we call first?"),
        choices=options(CallFirst.choices()),
        validators=[Required(_l("Select who we should call first"))],
    )

    def for_patient(self) -> ContactForm:
        """A patient's own request asks nothing about a caregiver."""
        for name in ("submitter_phone", "submitter_email", "call_first"):
            del self[name]
        return self

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.contact_method.data in (ContactMethod.EMAIL, ContactMethod.EITHER):
            first_is_caregiver = (
                "call_first" in self and self.call_first.data == CallFirst.CAREGIVER
            )
            box = self.submitter_email if first_is_caregiver else self.email
            if not box.data and not box.errors:
                box.errors = list(box.errors) + [
                    _l("Enter an email address, or choose Phone as the way to contact you")
                ]
                valid = False
        return valid


class UploadForm(TrimmedForm):
    kind = RadioField(
        _l("What are you sending?"),
        choices=options(DocumentKind.choices()),
        validators=[Required(_l("Select what you are sending"))],
    )


_RELEASE_RECORDS = (
    DocumentKind.PATHOLOGY,
    DocumentKind.IMAGING,
    DocumentKind.TREATMENT,
    DocumentKind.OTHER,
)


class ReleaseForm(TrimmedForm):
    holder_kind_1 = RadioField(
        _l("Doctor or hospital"),
        choices=options(RecordHolder.choices()),
        validators=[Required(_l("Select whether this is a doctor or a hospital"))],
    )
    holder_name_1 = _text(
        _l("Name of the doctor, practice or hospital"),
        models.NAME_MAX,
        Required(_l("Enter the name of the doctor, practice or hospital")),
    )
    holder_city_1 = _text(
        _l("City and state"), models.SHORT_TEXT_MAX, Required(_l("Enter the city and state"))
    )
    holder_phone_1 = _text(_l("Phone number (optional)"), 40, Optional(), PhoneNumber())
    holder_kind_2 = RadioField(
        _l("Doctor or hospital"), choices=options(RecordHolder.choices()), validators=[Optional()]
    )
    holder_name_2 = _text(
        _l("Name of the doctor, practice or hospital"), models.NAME_MAX, Optional()
    )
    holder_city_2 = _text(_l("City and state"), models.SHORT_TEXT_MAX, Optional())
    holder_phone_2 = _text(_l("Phone number (optional)"), 40, Optional(), PhoneNumber())
    holder_kind_3 = RadioField(
        _l("Doctor or hospital"), choices=options(RecordHolder.choices()), validators=[Optional()]
    )
    holder_name_3 = _text(
        _l("Name of the doctor, practice or hospital"), models.NAME_MAX, Optional()
    )
    holder_city_3 = _text(_l("City and state"), models.SHORT_TEXT_MAX, Optional())
    holder_phone_3 = _text(_l("Phone number (optional)"), 40, Optional(), PhoneNumber())
    records = MultiCheckboxField(
        _l("Records they may share"),
        choices=options([(k.value, k.lazy_label) for k in _RELEASE_RECORDS]),
        validators=[Required(_l("Select the records they may share"))],
    )
    signer = RadioField(
        _l("Who is signing?"),
        choices=options(Signer.choices()),
        validators=[Required(_l("Select who is signing"))],
    )
    signer_authority = _text(
        _l("Your legal authority"),
        models.SHORT_TEXT_MAX,
        RequiredWhen(
            "signer",
            (Signer.REPRESENTATIVE.value,),
            _l("Enter your legal authority, like health care power of attorney"),
        ),
    )
    signature = _text(
        _l("Type your full name to sign"),
        models.NAME_MAX,
        Required(_l("Type your full name to sign")),
        PersonName(
            _l("Your name can only include letters, spaces, hyphens, apostrophes and periods")
        ),
    )
    signed_month = StringField(_l("Month"))
    signed_day = StringField(_l("Day"))
    signed_year = StringField(_l("Year"))
    agree = BooleanField(_l("I have read this authorization, and typing my name is my signature"))
    signed_on: date | None = None

    def holders(self) -> list[dict]:
        found = []
        for n in (1, 2, 3):
            name = self[f"holder_name_{n}"].data
            if name:
                phone = self[f"holder_phone_{n}"]
                found.append(
                    {
                        "kind": self[f"holder_kind_{n}"].data or RecordHolder.DOCTOR.value,
                        "name": name,
                        "city": self[f"holder_city_{n}"].data,
                        "phone": getattr(phone, "normalized", None),
                    }
                )
        return found

    def validate(self, extra_validators=None, *, today: date | None = None) -> bool:
        valid = super().validate(extra_validators)
        for n in (2, 3):
            if self[f"holder_name_{n}"].data and not self[f"holder_city_{n}"].data:
                self[f"holder_city_{n}"].errors = [_l("Enter the city and state")]
                valid = False
        if not self.agree.data:
            self.agree.errors = [_l("Confirm that typing your name is your signature")]
            valid = False
        today = today or date.today()
        typed = typed_date(self.signed_month.data, self.signed_day.data, self.signed_year.data)
        if not any((self.signed_month.data, self.signed_day.data, self.signed_year.data)):
            self.signed_month.errors = [_l("Enter today's date")]
            valid = False
        elif typed is None or abs((typed - today).days) > 1:
            # A day either side: the signer may be in another time zone than the center.
            self.signed_month.errors = [
                _l(
                    "Enter today's date, like %(example)s",
                    example=f"{today.month} {today.day} {today.year}",
                )
            ]
            valid = False
        else:
            self.signed_on = typed
        return valid


def expiry(signed_on: date) -> date:
    return signed_on + timedelta(days=365)
