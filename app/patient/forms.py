"""The private page's forms: the date of birth, asking for a link again, how to reach
them, sending records, and the release. Messages say what to do, in both languages."""

from __future__ import annotations

from datetime import date, timedelta

from wtforms import BooleanField, Field, RadioField, StringField
from wtforms.validators import Optional, ValidationError

from app import models
from app.common.i18n import _l
from app.common.validation import (
    EmailAddress,
    ParsedPhone,
    PersonName,
    PhoneNumber,
    TrimmedForm,
    date_from_boxes,
    parse_email,
    parse_phone,
)
from app.public.forms import MultiCheckboxField, Required, RequiredWhen, options, text_field
from app.requests import reference_codes
from app.requests.patient_page import ContactDetails
from app.vocabulary import (
    BestTime,
    CallFirst,
    ContactMethod,
    DocumentKind,
    RecordHolder,
    Signer,
)

MAX_AGE_YEARS = 120


def typed_date(month: str | None, day: str | None, year: str | None) -> date | None:
    """A date from three boxes (US order), or None when it is not one."""
    typed = date_from_boxes(month or "", day or "", year or "")
    return typed if isinstance(typed, date) else None


class DateOfBirthForm(TrimmedForm):
    dob_month = StringField(_l("Month"))
    dob_day = StringField(_l("Day"))
    dob_year = StringField(_l("Year"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        error = self._date_of_birth_problem()
        if error is not None:
            self.dob_month.errors = list(self.dob_month.errors) + [error]
            return False
        return valid

    def _date_of_birth_problem(self) -> object | None:
        parts = (self.dob_month.data, self.dob_day.data, self.dob_year.data)
        if not any(parts):
            return _l("Enter the patient's date of birth")
        if self.date_of_birth() is None:
            return _l("Date of birth must be a real date, like 3 27 1965")
        return None

    def date_of_birth(self) -> date | None:
        """The date of birth the three boxes make, or None when they make none (a date
        in the future or over MAX_AGE_YEARS ago is none)."""
        born = typed_date(self.dob_month.data, self.dob_day.data, self.dob_year.data)
        today = date.today()
        if born is None or born >= today or today.year - born.year > MAX_AGE_YEARS:
            return None
        return born


class LinkRequestForm(DateOfBirthForm):
    """Asking for a link again: the reference, the patient's date of birth, and an e-mail
    address or phone number given on the request."""

    reference = text_field(
        _l("Reference number"),
        20,
        Required(_l("Enter the reference number, like K7QM-4XPD-9RTA")),
    )
    contact = text_field(
        _l("An email address or phone number you gave us"),
        models.EMAIL_MAX,
        Required(_l("Enter the email address or phone number you gave us")),
    )

    def validate_reference(self, field: Field) -> None:
        if self.parsed_reference() is None:
            raise ValidationError(_l("Enter the reference number, like K7QM-4XPD-9RTA"))

    def validate_contact(self, field: Field) -> None:
        if "@" in (field.data or ""):
            EmailAddress()(self, field)
        elif self.contact_as_stored() is None:
            raise ValidationError(
                _l(
                    "Enter an email address, like name@example.com, or a phone number,"
                    " like 813 555 0123"
                )
            )

    def parsed_reference(self) -> str | None:
        return reference_codes.parse(self.reference.data or "")

    def contact_as_stored(self) -> str | None:
        """The e-mail (normalised) or phone (E.164) as a request stores it, or None."""
        value = self.contact.data or ""
        if "@" in value:
            return parse_email(value)
        parsed = parse_phone(value, allow_extension=False)
        return parsed.number if isinstance(parsed, ParsedPhone) else None


class ContactForm(TrimmedForm):
    phone = text_field(
        _l("Patient's phone number"),
        40,
        Required(_l("Enter the patient's phone number")),
        PhoneNumber(),
    )
    email = text_field(
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
    submitter_phone = text_field(
        _l("Your phone number"), 40, Required(_l("Enter your phone number")), PhoneNumber()
    )
    submitter_email = text_field(
        _l("Your email address (optional)"), models.EMAIL_MAX, Optional(), EmailAddress()
    )
    call_first = RadioField(
        _l("Who should we call first?"),
        choices=options(CallFirst.choices()),
        validators=[Required(_l("Select who we should call first"))],
    )

    def details(self, *, caregiver: bool) -> ContactDetails:
        """What the checked form says, in the shapes a request stores."""
        phone = parse_phone(self.phone.data or "")
        theirs = parse_phone(self.submitter_phone.data or "") if caregiver else None
        return ContactDetails(
            phone=phone.number,
            phone_ext=phone.extension,
            email=parse_email(self.email.data) if self.email.data else None,
            contact_method=ContactMethod(self.contact_method.data),
            best_time_to_call=BestTime(self.best_time_to_call.data),
            submitter_phone=theirs.number if theirs else None,
            submitter_phone_ext=theirs.extension if theirs else None,
            submitter_email=(
                parse_email(self.submitter_email.data)
                if caregiver and self.submitter_email.data
                else None
            ),
            call_first=CallFirst(self.call_first.data) if caregiver else None,
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
    holder_name_1 = text_field(
        _l("Name of the doctor, practice or hospital"),
        models.NAME_MAX,
        Required(_l("Enter the name of the doctor, practice or hospital")),
    )
    holder_city_1 = text_field(
        _l("City and state"), models.SHORT_TEXT_MAX, Required(_l("Enter the city and state"))
    )
    holder_phone_1 = text_field(_l("Phone number (optional)"), 40, Optional(), PhoneNumber())
    holder_kind_2 = RadioField(
        _l("Doctor or hospital"), choices=options(RecordHolder.choices()), validators=[Optional()]
    )
    holder_name_2 = text_field(
        _l("Name of the doctor, practice or hospital"), models.NAME_MAX, Optional()
    )
    holder_city_2 = text_field(_l("City and state"), models.SHORT_TEXT_MAX, Optional())
    holder_phone_2 = text_field(_l("Phone number (optional)"), 40, Optional(), PhoneNumber())
    holder_kind_3 = RadioField(
        _l("Doctor or hospital"), choices=options(RecordHolder.choices()), validators=[Optional()]
    )
    holder_name_3 = text_field(
        _l("Name of the doctor, practice or hospital"), models.NAME_MAX, Optional()
    )
    holder_city_3 = text_field(_l("City and state"), models.SHORT_TEXT_MAX, Optional())
    holder_phone_3 = text_field(_l("Phone number (optional)"), 40, Optional(), PhoneNumber())
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
    signer_authority = text_field(
        _l("Your legal authority"),
        models.SHORT_TEXT_MAX,
        RequiredWhen(
            "signer",
            (Signer.REPRESENTATIVE.value,),
            _l("Enter your legal authority, like health care power of attorney"),
        ),
    )
    signature = text_field(
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

    def holders(self) -> list[dict]:
        found = []
        for n in (1, 2, 3):
            name = self[f"holder_name_{n}"].data
            if name:
                found.append(
                    {
                        "kind": self[f"holder_kind_{n}"].data or RecordHolder.DOCTOR.value,
                        "name": name,
                        "city": self[f"holder_city_{n}"].data,
                        "phone": phone_as_stored(self[f"holder_phone_{n}"].data),
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
        return valid

    def signed_on(self) -> date | None:
        """The date typed beside the signature (checked by ``validate``)."""
        return typed_date(self.signed_month.data, self.signed_day.data, self.signed_year.data)


def expiry(signed_on: date) -> date:
    return signed_on + timedelta(days=365)


def phone_as_stored(typed: str | None) -> str | None:
    """An optional phone box as a request stores it (E.164), or None when empty."""
    if not typed:
        return None
    parsed = parse_phone(typed)
    return parsed.number if isinstance(parsed, ParsedPhone) else None
