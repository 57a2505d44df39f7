"""The new-patient request form and its rules."""

from __future__ import annotations

import functools
import re
from datetime import date

from flask import request
from wtforms import (
    BooleanField,
    Field,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Length, Optional, StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app import models
from app.common.i18n import _l
from app.common.validation import (
    DateProblem,
    EmailAddress,
    NoControlCharacters,
    PersonName,
    PhoneNumber,
    TrimmedForm,
    date_from_boxes,
    date_missing_parts,
    npi_is_valid,
    parse_zip,
)
from app.public.wording import for_person
from app.requests.fields import FORM_ORDER
from app.serving.language import language_of
from app.vocabulary import BY_EMAIL as CONTACT_BY_EMAIL
from app.vocabulary import (
    BestTime,
    CallFirst,
    ContactMethod,
    Insurance,
    Language,
    MetastasisSite,
    Sex,
    Submitter,
    UsState,
    Vocabulary,
    YesNo,
    YesNoNotSure,
)

MAX_AGE_YEARS = 120
# Whole sentences, one per combination, so that each translates as a sentence.
_MISSING_DATE_PARTS = {
    ("month",): _l("Date of birth must include a month"),
    ("day",): _l("Date of birth must include a day"),
    ("year",): _l("Date of birth must include a year"),
    ("month", "day"): _l("Date of birth must include a month and day"),
    ("month", "year"): _l("Date of birth must include a month and year"),
    ("day", "year"): _l("Date of birth must include a day and year"),
}
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def token_is_well_formed(token: str | None) -> bool:
    return bool(_TOKEN.match(token or ""))


def options(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class Required:
    """Like DataRequired, but with our message and stopping the chain."""

    def __init__(self, message: str):
        self.message = message

    def __call__(self, form, field: Field) -> None:
        if field.data is None or field.data == "" or field.data == []:
            field.errors[:] = []
            raise StopValidation(self.message)


class RequiredWhen:
    """Required when another field has one of the given values; otherwise ignored."""

    def __init__(self, other: str, values: tuple[str, ...], message: str):
        self.other = other
        self.reads = (other,)
        self.values = values
        self.message = message
        self.field_flags = {}

    def __call__(self, form, field: Field) -> None:
        if form[self.other].data in self.values:
            if field.data in (None, "", []):
                field.errors[:] = []
                raise StopValidation(self.message)
        else:
            field.errors[:] = []
            raise StopValidation()


class OptionalWhen:
    """Skip the remaining rules unless another field has one of the given values."""

    def __init__(self, other: str, values: tuple[str, ...]):
        self.other = other
        self.reads = (other,)
        self.values = values
        self.field_flags = {}

    def __call__(self, form, field: Field) -> None:
        if form[self.other].data not in self.values:
            field.errors[:] = []
            raise StopValidation()


class AskedWhen:
    """Asked when another field has one of ``required`` (then needed) or ``optional``
    (then checked if given) values; otherwise ignored."""

    def __init__(
        self, other: str, *, required: tuple[str, ...], optional: tuple[str, ...], message: str
    ):
        self.other = other
        self.reads = (other,)
        self.required = required
        self.optional = optional
        self.message = message
        self.field_flags = {}

    def __call__(self, form, field: Field) -> None:
        answer = form[self.other].data
        empty = field.data in (None, "", [])
        if answer in self.required and empty:
            field.errors[:] = []
            raise StopValidation(self.message)
        if answer not in self.required + self.optional or empty:
            field.errors[:] = []
            raise StopValidation()


def contacted_first(form) -> str:
    """Whose contact details we use first: the caregiver's only when a caregiver asked."""
    if form["submitter"].data == Submitter.SOMEONE_ELSE and form["call_first"].data == (
        CallFirst.CAREGIVER
    ):
        return CallFirst.CAREGIVER
    return CallFirst.PATIENT


class EmailWhenChosen:
    """An e-mail address is needed only from the person we contact first, and only where
    e-mail is the chosen way (Email or Either); otherwise it may be left empty. A patient
    with no e-mail, whose caregiver is contacted first, or who is reached by phone, is
    never made to type someone else's."""

    # The answers this rule reads (contacted_first reads submitter and call_first).
    reads = ("submitter", "contact_method", "call_first")

    def __init__(self, person: CallFirst, message: str):
        self.person = person
        self.message = message
        self.field_flags = {}

    def __call__(self, form, field: Field) -> None:
        if self.person == CallFirst.CAREGIVER and form["submitter"].data != Submitter.SOMEONE_ELSE:
            field.errors[:] = []
            raise StopValidation()  # a patient filling in the form has no caregiver e-mail
        if field.data not in (None, ""):
            return
        needed = (
            form["contact_method"].data in CONTACT_BY_EMAIL and contacted_first(form) == self.person
        )
        field.errors[:] = []
        if needed:
            raise StopValidation(self.message)
        raise StopValidation()


GATES = Required | RequiredWhen | OptionalWhen | AskedWhen | EmailWhenChosen | Optional


def text_field(label: str, max_length: int, *validators, **kwargs) -> StringField:
    """A text box of the public journey or the private page. Whether the field is needed
    at all is decided first; then characters and length; then the field's own format."""
    gates = [v for v in validators if isinstance(v, GATES)]
    formats = [v for v in validators if v not in gates]
    return StringField(
        label,
        validators=[
            *gates,
            NoControlCharacters(),
            Length(
                max=max_length,
                message=_l("Use %(count)s characters or fewer", count=max_length),
            ),
            *formats,
        ],
        **kwargs,
    )


def _radio(label: str, vocabulary: type[Vocabulary], message: str, **kwargs) -> RadioField:
    return RadioField(
        label, choices=options(vocabulary.choices()), validators=[Required(message)], **kwargs
    )


def _spanish_on_a_spanish_page() -> str | None:
    # The preferred language starts as Spanish on a Spanish page (/es/...); the person may
    # change it. A page kept for later visitors is kept per language (app/serving/pages.py).
    return Language.SPANISH.value if language_of(request.environ) == "es" else None


class AppointmentRequestForm(TrimmedForm):
    # The questions' order (app/requests/fields.py): the error summary lists problems in it.
    field_order = FORM_ORDER

    # Who is filling in the form.
    submitter = _radio(
        _l("Who is filling in this form?"),
        Submitter,
        _l("Select whether you are the patient or filling this in for them"),
    )
    submitter_name = text_field(
        _l("Your full name"),
        models.NAME_MAX,
        RequiredWhen("submitter", (Submitter.SOMEONE_ELSE,), _l("Enter your full name")),
        PersonName(
            _l("Your name can only include letters, spaces, hyphens, apostrophes and periods")
        ),
    )
    submitter_relationship = text_field(
        _l("Your relationship to the patient"),
        models.SHORT_TEXT_MAX,
        RequiredWhen(
            "submitter",
            (Submitter.SOMEONE_ELSE,),
            _l("Enter your relationship to the patient, like daughter or friend"),
        ),
    )
    submitter_phone = text_field(
        _l("Your phone number"),
        40,
        RequiredWhen("submitter", (Submitter.SOMEONE_ELSE,), _l("Enter your phone number")),
        PhoneNumber(),
    )
    submitter_email = text_field(
        _l("Your email address"),
        models.EMAIL_MAX,
        EmailWhenChosen(
            CallFirst.CAREGIVER,
            _l("Enter your email address, or choose Phone as the way to contact you"),
        ),
        EmailAddress(),
    )
    call_first = RadioField(
        _l("Who should we call first?"),
        choices=options(CallFirst.choices()),
        validators=[
            RequiredWhen(
                "submitter",
                (Submitter.SOMEONE_ELSE,),
                _l("Select who we should call first: the patient or you"),
            )
        ],
    )

    # The patient.
    first_name = text_field(
        for_person(_l("Your first name"), _l("The patient's first name")),
        models.NAME_MAX,
        Required(for_person(_l("Enter your first name"), _l("Enter the patient's first name"))),
        PersonName(
            _l("First name can only include letters, spaces, hyphens, apostrophes and periods")
        ),
    )
    last_name = text_field(
        for_person(_l("Your last name"), _l("The patient's last name")),
        models.NAME_MAX,
        Required(for_person(_l("Enter your last name"), _l("Enter the patient's last name"))),
        PersonName(
            _l("Last name can only include letters, spaces, hyphens, apostrophes and periods")
        ),
    )
    # The three boxes are checked together in _check_date_of_birth.
    dob_month = StringField(_l("Month"))
    dob_day = StringField(_l("Day"))
    dob_year = StringField(_l("Year"))
    sex = RadioField(_l("Sex (optional)"), choices=options(Sex.choices()), validators=[Optional()])
    email = text_field(
        for_person(_l("Your email address"), _l("The patient's email address")),
        models.EMAIL_MAX,
        EmailWhenChosen(
            CallFirst.PATIENT,
            for_person(
                _l("Enter your email address, or choose Phone as the way to contact you"),
                _l("Enter the patient's email address, or choose Phone as the way to contact them"),
            ),
        ),
        EmailAddress(),
    )
    phone = text_field(
        for_person(_l("Your phone number"), _l("The patient's phone number")),
        40,
        Required(for_person(_l("Enter your phone number"), _l("Enter the patient's phone number"))),
        PhoneNumber(),
    )
    contact_method = _radio(
        for_person(_l("How should we contact you?"), _l("How should we contact the patient?")),
        ContactMethod,
        for_person(
            _l("Select how we should contact you"), _l("Select how we should contact the patient")
        ),
    )
    best_time_to_call = _radio(
        _l("Best time to call"), BestTime, _l("Select the best time to call")
    )
    state = SelectField(
        for_person(_l("The state where you live"), _l("The state where the patient lives")),
        choices=options([("", _l("Select a state")), *UsState.choices()]),
        validators=[
            Required(
                for_person(
                    _l("Select the state where you live"),
                    _l("Select the state where the patient lives"),
                )
            )
        ],
    )
    zip_code = text_field(
        _l("ZIP code"),
        10,
        Required(for_person(_l("Enter your ZIP code"), _l("Enter the patient's ZIP code"))),
    )
    language = _radio(
        for_person(
            _l("Which language do you prefer?"), _l("Which language does the patient prefer?")
        ),
        Language,
        _l("Select the preferred language"),
        default=_spanish_on_a_spanish_page,
    )
    language_other = text_field(
        _l("Which language?"),
        models.SHORT_TEXT_MAX,
        RequiredWhen("language", (Language.OTHER,), _l("Enter the preferred language")),
    )
    interpreter_needed = _radio(
        for_person(_l("Do you need an interpreter?"), _l("Does the patient need an interpreter?")),
        YesNo,
        _l("Select whether an interpreter is needed"),
    )

    # The diagnosis.
    diagnosed_metastatic = _radio(
        for_person(
            _l("Have you been diagnosed with breast cancer that has spread beyond the breast?"),
            _l(
                "Has the patient been diagnosed with breast cancer that has spread beyond "
                "the breast?"
            ),
        ),
        YesNoNotSure,
        for_person(
            _l("Select whether you have been diagnosed with breast cancer that has spread"),
            _l("Select whether the patient has been diagnosed with breast cancer that has spread"),
        ),
    )
    metastasis_sites = MultiCheckboxField(
        _l("Where has it spread? Select all that apply."),
        choices=options(MetastasisSite.choices()),
        validators=[
            RequiredWhen(
                "diagnosed_metastatic",
                (YesNoNotSure.YES,),
                _l("Select where the cancer has spread, or select Not sure"),
            ),
        ],
    )
    in_treatment = _radio(
        for_person(
            _l("Are you being treated for cancer now?"),
            _l("Is the patient being treated for cancer now?"),
        ),
        YesNo,
        for_person(
            _l("Select whether you are being treated now"),
            _l("Select whether the patient is being treated now"),
        ),
    )

    # Insurance.
    insurance_type = _radio(
        for_person(_l("What insurance do you have?"), _l("What insurance does the patient have?")),
        Insurance,
        for_person(_l("Select your insurance"), _l("Select the patient's insurance")),
    )
    insurance_carrier = text_field(
        _l("Insurance company name"),
        models.SHORT_TEXT_MAX,
        AskedWhen(
            "insurance_type",
            required=(Insurance.COMMERCIAL, Insurance.MEDICARE_ADVANTAGE, Insurance.OTHER),
            # Many Medicaid plans are run by a company; some cards name none.
            optional=(Insurance.MEDICAID,),
            message=_l("Enter the name of the insurance company"),
        ),
    )

    # Referral.
    has_referral = _radio(
        for_person(
            _l("Has a physician referred you to us?"),
            _l("Has a physician referred the patient to us?"),
        ),
        YesNo,
        for_person(
            _l("Select whether a physician has referred you"),
            _l("Select whether a physician has referred the patient"),
        ),
    )
    physician_name = text_field(
        _l("Referring physician's name"),
        models.NAME_MAX,
        RequiredWhen("has_referral", (YesNo.YES,), _l("Enter the referring physician's name")),
        PersonName(
            _l(
                "Physician's name can only include letters, spaces, hyphens, apostrophes "
                "and periods"
            )
        ),
    )
    physician_phone = text_field(
        _l("Referring physician's phone number"),
        40,
        RequiredWhen(
            "has_referral", (YesNo.YES,), _l("Enter the referring physician's phone number")
        ),
        PhoneNumber(),
    )
    physician_practice = text_field(
        _l("Practice or hospital (optional)"),
        models.SHORT_TEXT_MAX,
        OptionalWhen("has_referral", (YesNo.YES,)),
    )
    physician_fax = text_field(
        _l("Fax number (optional)"),
        40,
        OptionalWhen("has_referral", (YesNo.YES,)),
        PhoneNumber(fax=True),
    )
    physician_email = text_field(
        _l("Email address (optional)"),
        models.EMAIL_MAX,
        OptionalWhen("has_referral", (YesNo.YES,)),
        EmailAddress(),
    )
    physician_npi = text_field(
        _l("NPI number (optional)"), 10, OptionalWhen("has_referral", (YesNo.YES,))
    )

    message = TextAreaField(
        _l("Anything else you would like us to know? (optional)"),
        validators=[
            NoControlCharacters(multiline=True),
            Length(
                max=models.MESSAGE_MAX,
                message=_l("Use %(count)s characters or fewer", count=f"{models.MESSAGE_MAX:,}"),
            ),
        ],
    )
    consent = BooleanField(
        _l("I agree to be contacted by the center about this request by phone or email"),
        validators=[DataRequired(_l("Confirm that we may contact you about this request"))],
    )

    def validate_zip_code(self, field: Field) -> None:
        if parse_zip(field.data or "") is None:
            raise ValidationError(
                _l("Enter a 5-digit ZIP code, like 33612, or ZIP+4, like 33612-9416")
            )

    def validate_physician_npi(self, field: Field) -> None:
        if field.data and not npi_is_valid(field.data):
            raise ValidationError(_l("Enter the 10-digit NPI number, or leave it blank"))

    def validate_metastasis_sites(self, field: Field) -> None:
        # Each place once, whatever was posted: at most one of each choice is stored.
        field.data = list(dict.fromkeys(field.data or []))
        if MetastasisSite.NOT_SURE in field.data and len(field.data) > 1:
            raise ValidationError(
                _l("Select the places the cancer has spread, or Not sure, not both")
            )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if "dob_month" not in self._fields:
            return valid  # a page without the date of birth (form_asking)
        dob_error = self._check_date_of_birth()
        if dob_error:
            # The three boxes share one message, shown on the group and linked to the
            # first box (month, in US order).
            self.dob_month.errors = list(self.dob_month.errors) + [dob_error]
            valid = False
        return valid

    def birth_date(self) -> date | None:
        """The date the three boxes make, or None when they make none."""
        born = date_from_boxes(*self._date_boxes())
        return born if isinstance(born, date) else None

    def _date_boxes(self) -> tuple[str, str, str]:
        return (self.dob_month.data or "", self.dob_day.data or "", self.dob_year.data or "")

    def _check_date_of_birth(self) -> object | None:
        boxes = self._date_boxes()
        born = date_from_boxes(*boxes)
        if isinstance(born, DateProblem):
            return _date_message(born, boxes)
        today = date.today()
        if born >= today:
            return _l("Date of birth must be in the past")
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        if age > MAX_AGE_YEARS:
            return for_person(
                _l(
                    "Check the year of birth: you cannot be older than %(years)s",
                    years=MAX_AGE_YEARS,
                ),
                _l(
                    "Check the year of birth: the patient cannot be older than %(years)s",
                    years=MAX_AGE_YEARS,
                ),
            )
        return None


def _date_message(problem: DateProblem, boxes: tuple[str, str, str]) -> object:
    if problem is DateProblem.MISSING:
        return for_person(_l("Enter your date of birth"), _l("Enter the patient's date of birth"))
    if problem is DateProblem.INCOMPLETE:
        return _MISSING_DATE_PARTS[date_missing_parts(*boxes)]
    if problem is DateProblem.SHORT_YEAR:
        return _l("Enter the year of birth with 4 digits, like 1965")
    return _l("Date of birth must be a real date, like 3 27 1965")


# The questions of the whole form, by name.
_QUESTIONS = tuple(
    name for name, value in vars(AppointmentRequestForm).items() if isinstance(value, UnboundField)
)


def _reads(name: str) -> set[str]:
    """The other questions whose answers this question's rules read."""
    validators = getattr(AppointmentRequestForm, name).kwargs.get("validators") or ()
    return {other for rule in validators for other in getattr(rule, "reads", ())}


@functools.cache
def form_asking(names: frozenset[str]) -> type[AppointmentRequestForm]:
    """The form with only these questions and those their rules read (a caregiver's phone
    reads who is filling in the form): one page is built and checked without the other
    thirty-odd questions, with the very same rules. One class per page, made once per
    process."""
    needed = set(names)
    for name in names:
        needed |= _reads(name)
    # WTForms leaves out a field that a subclass sets to None.
    left_out = {name: None for name in _QUESTIONS if name not in needed}
    return type("AppointmentRequestPage", (AppointmentRequestForm,), left_out)
