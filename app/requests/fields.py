"""The patient's answers, written once, in the order the form asks them.

Each entry names the form field, where the answer is stored and in what shape, how staff
see it, and whether it says who the patient is. Read by the form (its field order and the
error summary's), by ``app/public/submission.py`` (the stored shape), by the staff
request page (its rows) and by the retention purge (what it removes). A new question is
one line here, its field on the form, and a column.

No Flask and no database here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date

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


class Stored(enum.StrEnum):
    """How a form answer becomes its stored value."""

    TEXT = "text"  # the trimmed text
    OPTIONAL = "optional"  # the text, or None when left empty
    NORMALIZED = "normalized"  # a phone in E.164, an email, a ZIP: what validation made of it
    CODE = "code"  # one vocabulary code (None when an optional one is left empty)
    CODES = "codes"  # a list of vocabulary codes
    FLAG = "flag"  # a boolean: the answer was ``flag_answer``
    DATE = "date"  # the date the three boxes make
    NOT_STORED = "not_stored"  # asked, checked, but not kept (the referral question is a row)


class Shown(enum.StrEnum):
    """How the staff request page shows a stored value."""

    TEXT = "text"
    PHONE = "phone"  # formatted, and a tel: link
    FAX = "fax"  # formatted, no link
    EMAIL = "email"  # a mailto: link
    DATE = "date"  # MM/DD/YYYY
    LABEL = "label"  # the vocabulary's label
    LABELS = "labels"  # the labels, comma-separated
    FLAG = "flag"  # flag_text, the first for true


class Step(enum.StrEnum):
    """The journey's pages, in order: each asks the questions whose ``step`` it is.

    The value is the page's address (``/request-appointment/<step>``), the same in every
    language."""

    WHO = "who"
    PATIENT = "patient"
    CONTACT = "contact"
    DIAGNOSIS = "diagnosis"
    INSURANCE = "insurance"
    CONSENT = "consent"


STEPS: tuple[Step, ...] = tuple(Step)


class Section(enum.StrEnum):
    PATIENT = "patient"
    SUBMITTER = "submitter"
    DIAGNOSIS = "diagnosis"
    REFERRAL = "referral"
    MESSAGE = "message"


@dataclass(frozen=True, kw_only=True)
class RequestField:
    name: str  # the form field
    # What staff read on the history when a re-send changes this answer.
    history_label: str
    section: Section
    step: Step  # the journey's page that asks it
    stored: Stored
    # The column on appointment_requests (or on referrals, for the physician's details).
    column: str | None = None
    on_referral: bool = False
    vocabulary: type[Vocabulary] | None = None
    # Kept (and shown) only when another answer is one of these; otherwise stored empty.
    kept_when: tuple[str, tuple[str, ...]] | None = None
    flag_answer: str = YesNo.YES
    # The staff page's row; fields sharing a row follow each other and are joined by a space.
    staff_label: str | None = None
    shown: Shown = Shown.TEXT
    flag_text: tuple[str, str] = ("Yes", "No")
    emphasise_true: bool = False
    # Sharing a row: put after the previous part with this, or in its place.
    joiner: str = " "
    replaces: bool = False
    missing: str = ""  # shown when there is no value ("" hides the row)
    # Says who the patient (or the person filling in the form) is: removed when retention
    # ends. What stays are the coded answers, which identify nobody.
    identifying: bool = False
    # A phone's extension, parsed from what was typed ("ext. 204") and kept in this column
    # beside the number (on the same table as ``column``).
    extension_column: str | None = None

    @property
    def form_field(self) -> str:
        return self.name


_ON_BEHALF = ("submitter", (Submitter.SOMEONE_ELSE.value,))
_REFERRED = ("has_referral", (YesNo.YES.value,))

FIELDS: tuple[RequestField, ...] = (
    # Who is filling in the form.
    RequestField(
        name="submitter",
        history_label="Filled in by the patient",
        section=Section.SUBMITTER,
        step=Step.WHO,
        stored=Stored.FLAG,
        column="submitted_by_patient",
        vocabulary=Submitter,
        flag_answer=Submitter.PATIENT,
        staff_label="Who",
        shown=Shown.FLAG,
        flag_text=("The patient", ""),
    ),
    RequestField(
        name="submitter_name",
        history_label="Name of the person filling in the form",
        section=Section.SUBMITTER,
        step=Step.WHO,
        stored=Stored.TEXT,
        column="submitter_name",
        kept_when=_ON_BEHALF,
        staff_label="Name",
        identifying=True,
    ),
    RequestField(
        name="submitter_relationship",
        history_label="Their relationship to the patient",
        section=Section.SUBMITTER,
        step=Step.WHO,
        stored=Stored.TEXT,
        column="submitter_relationship",
        kept_when=_ON_BEHALF,
        staff_label="Relationship",
        identifying=True,
    ),
    RequestField(
        name="submitter_phone",
        history_label="Their phone number",
        section=Section.SUBMITTER,
        step=Step.CONTACT,
        stored=Stored.NORMALIZED,
        column="submitter_phone",
        kept_when=_ON_BEHALF,
        staff_label="Phone",
        shown=Shown.PHONE,
        identifying=True,
        extension_column="submitter_phone_ext",
    ),
    RequestField(
        name="submitter_email",
        history_label="Their email address",
        section=Section.SUBMITTER,
        step=Step.CONTACT,
        stored=Stored.NORMALIZED,
        column="submitter_email",
        kept_when=_ON_BEHALF,
        staff_label="Email",
        shown=Shown.EMAIL,
        identifying=True,
    ),
    RequestField(
        name="call_first",
        history_label="Call first",
        section=Section.SUBMITTER,
        step=Step.CONTACT,
        stored=Stored.CODE,
        column="call_first",
        vocabulary=CallFirst,
        kept_when=_ON_BEHALF,
        staff_label="Call first",
        shown=Shown.LABEL,
    ),
    # The patient.
    RequestField(
        name="first_name",
        history_label="First name",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.TEXT,
        column="first_name",
        staff_label="Name",
        identifying=True,
    ),
    RequestField(
        name="last_name",
        history_label="Last name",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.TEXT,
        column="last_name",
        staff_label="Name",
        identifying=True,
    ),
    # The three boxes' errors are shown on the first, the month.
    RequestField(
        name="dob_month",
        history_label="Date of birth",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.DATE,
        column="date_of_birth",
        staff_label="Date of birth",
        shown=Shown.DATE,
        missing="Removed",
        identifying=True,
    ),
    RequestField(
        name="sex",
        history_label="Sex",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.CODE,
        column="sex",
        vocabulary=Sex,
        staff_label="Sex",
        shown=Shown.LABEL,
        missing="Not given",
        identifying=True,
    ),
    RequestField(
        name="email",
        history_label="Email address",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.NORMALIZED,
        column="email",
        staff_label="Email",
        shown=Shown.EMAIL,
        identifying=True,
    ),
    RequestField(
        name="phone",
        history_label="Phone number",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.NORMALIZED,
        column="phone",
        staff_label="Phone",
        shown=Shown.PHONE,
        identifying=True,
        extension_column="phone_ext",
    ),
    RequestField(
        name="contact_method",
        history_label="How to contact",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.CODE,
        column="contact_method",
        vocabulary=ContactMethod,
        staff_label="Contact by",
        shown=Shown.LABEL,
    ),
    RequestField(
        name="best_time_to_call",
        history_label="Best time to call",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.CODE,
        column="best_time_to_call",
        vocabulary=BestTime,
        staff_label="Best time to call",
        shown=Shown.LABEL,
    ),
    RequestField(
        name="state",
        history_label="State",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.CODE,
        column="state",
        vocabulary=UsState,
        staff_label="State and ZIP",
        shown=Shown.LABEL,
    ),
    RequestField(
        name="zip_code",
        history_label="ZIP code",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.NORMALIZED,
        column="zip_code",
        staff_label="State and ZIP",
        identifying=True,
    ),
    RequestField(
        name="language",
        history_label="Preferred language",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.CODE,
        column="language",
        vocabulary=Language,
        staff_label="Language",
        shown=Shown.LABEL,
    ),
    RequestField(
        name="language_other",
        history_label="Other language",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.TEXT,
        column="language_other",
        kept_when=("language", (Language.OTHER.value,)),
        staff_label="Language",
        replaces=True,  # the language itself, not "Another language"
        identifying=True,
    ),
    RequestField(
        name="interpreter_needed",
        history_label="Interpreter needed",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.FLAG,
        column="interpreter_needed",
        vocabulary=YesNo,
        staff_label="Interpreter",
        shown=Shown.FLAG,
        flag_text=("Needed", "Not needed"),
        emphasise_true=True,
    ),
    # The diagnosis.
    RequestField(
        name="diagnosed_metastatic",
        history_label="Diagnosed with metastatic breast cancer",
        section=Section.DIAGNOSIS,
        step=Step.DIAGNOSIS,
        stored=Stored.CODE,
        column="diagnosed_metastatic",
        vocabulary=YesNoNotSure,
        staff_label="Told the cancer has spread",
        shown=Shown.LABEL,
    ),
    RequestField(
        name="metastasis_sites",
        history_label="Where it has spread",
        section=Section.DIAGNOSIS,
        step=Step.DIAGNOSIS,
        stored=Stored.CODES,
        column="metastasis_sites",
        vocabulary=MetastasisSite,
        # Asked (and checked) only when the answer is yes; for any other answer what was
        # posted is dropped, never stored unchecked (issue 12).
        kept_when=("diagnosed_metastatic", (YesNoNotSure.YES.value,)),
        staff_label="Where",
        shown=Shown.LABELS,
        missing="Not given",
        identifying=True,
    ),
    RequestField(
        name="in_treatment",
        history_label="In treatment now",
        section=Section.DIAGNOSIS,
        step=Step.DIAGNOSIS,
        stored=Stored.FLAG,
        column="in_treatment",
        vocabulary=YesNo,
        staff_label="In treatment now",
        shown=Shown.FLAG,
    ),
    # Insurance.
    RequestField(
        name="insurance_type",
        history_label="Insurance",
        section=Section.DIAGNOSIS,
        step=Step.INSURANCE,
        stored=Stored.CODE,
        column="insurance_type",
        vocabulary=Insurance,
        staff_label="Insurance",
        shown=Shown.LABEL,
    ),
    RequestField(
        name="insurance_carrier",
        history_label="Insurance company",
        section=Section.DIAGNOSIS,
        step=Step.INSURANCE,
        stored=Stored.OPTIONAL,
        column="insurance_carrier",
        # Asked for (and checked) only where there is a company to name: required for
        # commercial, Medicare Advantage and other insurance, optional for Medicaid (many
        # Medicaid plans are managed-care plans run by a company, whose network intake must
        # check; some people's card names no plan). Original Medicare and no
        # insurance have no company: dropped, never stored unchecked (issue 12).
        kept_when=(
            "insurance_type",
            (
                Insurance.COMMERCIAL.value,
                Insurance.MEDICARE_ADVANTAGE.value,
                Insurance.MEDICAID.value,
                Insurance.OTHER.value,
            ),
        ),
        staff_label="Insurance",
        joiner=": ",
        identifying=True,
    ),
    # The referral: a row of its own, stored only when there is one.
    RequestField(
        name="has_referral",
        history_label="Referral",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.NOT_STORED,
        vocabulary=YesNo,
    ),
    RequestField(
        name="physician_name",
        history_label="Referring physician",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.TEXT,
        column="physician_name",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Physician",
    ),
    RequestField(
        name="physician_phone",
        history_label="Physician's phone",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.NORMALIZED,
        column="physician_phone",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Phone",
        shown=Shown.PHONE,
        extension_column="physician_phone_ext",
    ),
    RequestField(
        name="physician_practice",
        history_label="Practice or hospital",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.OPTIONAL,
        column="practice",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Practice",
        missing="Not given",
    ),
    RequestField(
        name="physician_fax",
        history_label="Physician's fax",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.NORMALIZED,
        column="fax",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Fax",
        shown=Shown.FAX,
        missing="Not given",
    ),
    RequestField(
        name="physician_email",
        history_label="Physician's email",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.NORMALIZED,
        column="email",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Email",
        missing="Not given",
    ),
    RequestField(
        name="physician_npi",
        history_label="Physician's NPI",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.OPTIONAL,
        column="npi",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="NPI",
        missing="Not given",
    ),
    # Last words.
    RequestField(
        name="message",
        history_label="Message",
        section=Section.MESSAGE,
        step=Step.CONSENT,
        stored=Stored.OPTIONAL,
        column="message",
        identifying=True,
    ),
    RequestField(
        name="consent",
        history_label="Consent to contact",
        section=Section.SUBMITTER,
        step=Step.CONSENT,
        stored=Stored.FLAG,
        column="consent_to_contact",
        staff_label="Consent to be contacted",
        shown=Shown.FLAG,
    ),
)

BY_NAME: dict[str, RequestField] = {f.name: f for f in FIELDS}

# The order the form asks its questions: the error summary lists problems in it.
FORM_ORDER: tuple[str, ...] = tuple(f.form_field for f in FIELDS)


def _columns(field: RequestField) -> tuple[str, ...]:
    if field.column is None:
        return ()
    return (field.column, field.extension_column) if field.extension_column else (field.column,)


def stored_columns() -> tuple[str, ...]:
    """The appointment_requests columns that hold an answer, in the form's order (a phone's
    extension after its number)."""
    return tuple(c for f in FIELDS if not f.on_referral for c in _columns(f))


def referral_columns() -> tuple[str, ...]:
    """The referrals columns that hold an answer."""
    return tuple(c for f in FIELDS if f.on_referral for c in _columns(f))


def identifying_columns() -> tuple[str, ...]:
    """What the retention purge removes from a request (a phone's extension with it)."""
    return tuple(c for f in FIELDS if f.identifying and not f.on_referral for c in _columns(f))


def is_kept(field: RequestField, answers: dict[str, object]) -> bool:
    """Whether an answer is kept, given the other answers as the form sent them."""
    if field.kept_when is None:
        return True
    other, values = field.kept_when
    return answers.get(other) in values


@dataclass(frozen=True)
class Compared:
    """One stored value a re-send is compared on: a column, or a phone's extension."""

    key: str  # the column; "referral.<column>" for the physician's details
    label: str
    field: RequestField


def compared_values() -> Iterator[Compared]:
    """Every stored answer, in the form's order, with the label the history shows."""
    for field in FIELDS:
        if field.column is None:
            continue
        prefix = "referral." if field.on_referral else ""
        yield Compared(prefix + field.column, field.history_label, field)
        if field.extension_column:
            yield Compared(
                prefix + field.extension_column, f"{field.history_label}: extension", field
            )


def shown_in_history(value: object, field: RequestField) -> str:
    """A stored value as the history shows it: labels for codes, never the raw code."""
    if value is None or value == [] or value == "":
        return "(blank)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.strftime("%m/%d/%Y")
    values = value if isinstance(value, list) else [value]
    if field.vocabulary is not None and field.stored in (Stored.CODE, Stored.CODES):
        return ", ".join(field.vocabulary.label_for(str(v)) or str(v) for v in values)
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True)
class Part:
    shown: Shown
    value: object
    emphasised: bool = False
    joiner: str = ""  # what comes before it in its row
    extension: str | None = None  # a phone's


@dataclass(frozen=True)
class StaffRow:
    label: str
    parts: tuple[Part, ...]


def staff_rows(request: object, section: Section) -> Iterator[StaffRow]:
    """The rows of one section of the staff request page, from a stored request (its
    referral, if any, as ``request.referral``)."""
    current: list[Part] = []
    label: str | None = None
    for field in FIELDS:
        if field.section != section or field.staff_label is None:
            continue
        if field.on_referral and getattr(request, "referral", None) is None:
            continue
        part = _part(field, _stored(request, field), _stored(request, field, extension=True))
        if field.staff_label != label:
            if label is not None and current:
                yield StaffRow(label, tuple(current))
            label, current = field.staff_label, []
        if part is None:
            continue
        if current and field.replaces:
            current[-1] = replace(part, joiner=current[-1].joiner)
        elif current:
            current.append(replace(part, joiner=field.joiner))
        else:
            current.append(part)
    if label is not None and current:
        yield StaffRow(label, tuple(current))


def _stored(request: object, field: RequestField, *, extension: bool = False) -> object:
    holder = getattr(request, "referral", None) if field.on_referral else request
    column = field.extension_column if extension else field.column
    return getattr(holder, column, None) if holder is not None and column else None


def _part(field: RequestField, value: object, extension: object = None) -> Part | None:
    if field.shown == Shown.FLAG:
        text = field.flag_text[0] if value else field.flag_text[1]
        return Part(Shown.TEXT, text, bool(value) and field.emphasise_true) if text else None
    if value in (None, "", []):
        return Part(Shown.TEXT, field.missing) if field.missing else None
    if field.shown in (Shown.LABEL, Shown.LABELS) and field.vocabulary is not None:
        values = value if isinstance(value, list) else [value]
        return Part(Shown.TEXT, ", ".join(field.vocabulary.label_for(str(v)) for v in values))
    if field.shown == Shown.DATE and isinstance(value, date):
        return Part(Shown.TEXT, value.strftime("%m/%d/%Y"))
    if field.shown == Shown.PHONE:
        return Part(Shown.PHONE, value, extension=str(extension) if extension else None)
    return Part(field.shown, value)


# The form fields a question's answer is typed into, when more than its own (the date's
# three boxes).
_BOXES: dict[str, tuple[str, ...]] = {"dob_month": ("dob_month", "dob_day", "dob_year")}


def step_questions(step: Step) -> tuple[RequestField, ...]:
    """The questions one page of the journey asks, in the form's order."""
    return tuple(f for f in FIELDS if f.step == step)


def step_form_fields(step: Step) -> tuple[str, ...]:
    """Every form field a page posts (a draft keeps each as typed)."""
    return tuple(name for f in step_questions(step) for name in _BOXES.get(f.name, (f.name,)))


def asked(field: RequestField, answers: dict[str, object]) -> bool:
    """Whether the journey asks this question, given the answers so far.

    A question that depends on an answer on an earlier page is asked only when it applies
    (the caregiver's own phone only for a caregiver). One that depends on an answer on its
    own page is on that page, shown with the answer that opens it (by the script; without
    it, always, its hint saying when it applies), and kept only when it applies (is_kept).
    """
    if field.kept_when is None:
        return True
    other = BY_NAME[field.kept_when[0]]
    return other.step == field.step or is_kept(field, answers)
