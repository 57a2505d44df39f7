"""The patient's answers, written once, in the order the form asks them: the one list
of questions.

Each entry names the question (its form field), where the answer is stored and in what
shape, how staff see it, what it is called outside the form, and whether it says who the
patient is. Read by the form (its field order and the error summary's), by the journey
(which page asks what, what is kept), by ``app/public/submission.py`` (the stored
shape), by the staff request page (its rows), by a re-send's history, by the CSV export
(a column each), by the FHIR QuestionnaireResponse (an item each) and by the retention
purge (what it removes). docs/architecture.md lists the files a new question touches;
tests/requests/test_fields.py fails for any it is missing from.

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
    """How a form answer becomes its stored value (app/public/submission.py does it, with
    the parsers of app/common/validation.py for the shapes that need one)."""

    TEXT = "text"  # the trimmed text
    OPTIONAL = "optional"  # the text, or None when left empty
    PHONE = "phone"  # E.164, with any extension in ``extension_column`` (parse_phone)
    FAX = "fax"  # E.164, never an extension
    EMAIL = "email"  # the address with its domain normalised (parse_email)
    ZIP = "zip"  # five digits, or ZIP+4 with its hyphen (parse_zip)
    CODE = "code"  # one vocabulary code (None when an optional one is left empty)
    CODES = "codes"  # a list of vocabulary codes
    FLAG = "flag"  # a boolean: the answer was ``flag_answer``
    DATE = "date"  # the date the three boxes make (date_from_boxes)


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
    # The question's name: its form field (unless ``boxes`` says otherwise), its linkId in
    # the FHIR QuestionnaireResponse and its column heading in the CSV export.
    name: str
    # What staff and other systems read for this answer, in English: the history of a
    # re-send that changed it, the QuestionnaireResponse item's text.
    label: str
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
    # The form fields the answer is typed into, when more than one (the date's three
    # boxes); the first carries its messages.
    boxes: tuple[str, ...] = ()

    @property
    def form_field(self) -> str:
        """The form field that carries the answer's messages (and its Change link)."""
        return self.boxes[0] if self.boxes else self.name

    @property
    def form_fields(self) -> tuple[str, ...]:
        """Every form field a page posts for it."""
        return self.boxes or (self.name,)


_ON_BEHALF = ("submitter", (Submitter.SOMEONE_ELSE.value,))
_REFERRED = ("has_referral", (YesNo.YES.value,))

FIELDS: tuple[RequestField, ...] = (
    # Who is filling in the form.
    RequestField(
        name="submitter",
        label="Who filled in the form",
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
        label="Name of the person filling in the form",
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
        label="Their relationship to the patient",
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
        label="Their phone number",
        section=Section.SUBMITTER,
        step=Step.CONTACT,
        stored=Stored.PHONE,
        column="submitter_phone",
        kept_when=_ON_BEHALF,
        staff_label="Phone",
        shown=Shown.PHONE,
        identifying=True,
        extension_column="submitter_phone_ext",
    ),
    RequestField(
        name="submitter_email",
        label="Their email address",
        section=Section.SUBMITTER,
        step=Step.CONTACT,
        stored=Stored.EMAIL,
        column="submitter_email",
        kept_when=_ON_BEHALF,
        staff_label="Email",
        shown=Shown.EMAIL,
        identifying=True,
    ),
    RequestField(
        name="call_first",
        label="Who to call first",
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
        label="First name",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.TEXT,
        column="first_name",
        staff_label="Name",
        identifying=True,
    ),
    RequestField(
        name="last_name",
        label="Last name",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.TEXT,
        column="last_name",
        staff_label="Name",
        identifying=True,
    ),
    # Typed in three boxes; their messages are shown on the first, the month.
    RequestField(
        name="date_of_birth",
        label="Date of birth",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.DATE,
        column="date_of_birth",
        boxes=("dob_month", "dob_day", "dob_year"),
        staff_label="Date of birth",
        shown=Shown.DATE,
        missing="Removed",
        identifying=True,
    ),
    RequestField(
        name="sex",
        label="Sex",
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
        label="Email address",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.EMAIL,
        column="email",
        staff_label="Email",
        shown=Shown.EMAIL,
        identifying=True,
    ),
    RequestField(
        name="phone",
        label="Phone number",
        section=Section.PATIENT,
        step=Step.CONTACT,
        stored=Stored.PHONE,
        column="phone",
        staff_label="Phone",
        shown=Shown.PHONE,
        identifying=True,
        extension_column="phone_ext",
    ),
    RequestField(
        name="contact_method",
        label="How to contact the patient",
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
        label="Best time to call",
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
        label="State",
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
        label="ZIP code",
        section=Section.PATIENT,
        step=Step.PATIENT,
        stored=Stored.ZIP,
        column="zip_code",
        staff_label="State and ZIP",
        identifying=True,
    ),
    RequestField(
        name="language",
        label="Preferred language",
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
        label="Other language",
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
        label="Interpreter needed",
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
        label="Diagnosed with metastatic breast cancer",
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
        label="Where it has spread",
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
        label="In treatment now",
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
        label="Insurance",
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
        label="Insurance company",
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
        label="Referred by a physician",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.FLAG,
        column="has_referral",
        vocabulary=YesNo,
    ),
    RequestField(
        name="physician_name",
        label="Referring physician",
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
        label="Physician's phone",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.PHONE,
        column="physician_phone",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Phone",
        shown=Shown.PHONE,
        extension_column="physician_phone_ext",
    ),
    RequestField(
        name="physician_practice",
        label="Practice or hospital",
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
        label="Physician's fax",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.FAX,
        column="fax",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Fax",
        shown=Shown.FAX,
        missing="Not given",
    ),
    RequestField(
        name="physician_email",
        label="Physician's email",
        section=Section.REFERRAL,
        step=Step.INSURANCE,
        stored=Stored.EMAIL,
        column="email",
        on_referral=True,
        kept_when=_REFERRED,
        staff_label="Email",
        missing="Not given",
    ),
    RequestField(
        name="physician_npi",
        label="Physician's NPI",
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
        label="Message",
        section=Section.MESSAGE,
        step=Step.CONSENT,
        stored=Stored.OPTIONAL,
        column="message",
        identifying=True,
    ),
    RequestField(
        name="consent",
        label="Consent to contact",
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
        yield Compared(prefix + field.column, field.label, field)
        if field.extension_column:
            yield Compared(prefix + field.extension_column, f"{field.label}: extension", field)


def shown_in_history(value: object, field: RequestField) -> str:
    """A stored value as the history shows it: labels for codes, never the raw code."""
    answer = answer_given(field, value)
    if answer is None or answer == []:
        return "(blank)"
    if isinstance(answer, bool):
        return "yes" if answer else "no"
    if isinstance(answer, date):
        return answer.strftime("%m/%d/%Y")
    values = answer if isinstance(answer, list) else [answer]
    if is_coded(field):
        return ", ".join(field.vocabulary.label_for(str(v)) or str(v) for v in values)
    return ", ".join(str(v) for v in values)


# The stored answers, read back (the CSV export, the FHIR QuestionnaireResponse) ----------


def is_coded(field: RequestField) -> bool:
    """Whether the answer is a vocabulary code (or codes): one of the question's choices.
    A yes/no check is a plain yes or no; a flag whose answer names someone (who filled in
    the form) is that choice's code."""
    if field.vocabulary is None:
        return False
    if field.stored == Stored.FLAG:
        return field.flag_answer != YesNo.YES
    return field.stored in (Stored.CODE, Stored.CODES)


def stored_answer(request: object, field: RequestField, *, extension: bool = False) -> object:
    """A stored request's answer to one question as it is stored (None when not given or
    not kept); ``extension``: a phone's extension. ``request`` has its referral, if any,
    as ``request.referral``."""
    return _stored(request, field, extension=extension)


def answer_given(field: RequestField, value: object) -> object:
    """A stored value as the answer the person gave: a coded flag as the code chosen
    (``patient`` or ``someone_else``), any other flag as True or False, codes and text as
    stored; None (or []) for no answer."""
    if value == "" or value is None:
        return [] if field.stored == Stored.CODES else None
    if field.stored == Stored.FLAG and is_coded(field):
        return field.flag_answer if value else _other_choice(field)
    if field.stored == Stored.CODES:
        return [str(v) for v in value]  # type: ignore[attr-defined]
    if isinstance(value, enum.Enum):
        return str(value.value)
    return value


def _other_choice(field: RequestField) -> str:
    # A coded flag has two choices: the one that sets it and the other.
    (other,) = (str(m.value) for m in field.vocabulary if m != field.flag_answer)  # type: ignore[union-attr]
    return other


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


def step_questions(step: Step) -> tuple[RequestField, ...]:
    """The questions one page of the journey asks, in the form's order."""
    return tuple(f for f in FIELDS if f.step == step)


def step_form_fields(step: Step) -> tuple[str, ...]:
    """Every form field a page posts (a draft keeps each as typed)."""
    return tuple(name for f in step_questions(step) for name in f.form_fields)


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
