"""The one vocabulary: every coded answer, status, reason, history kind and audit action.

Each is a string enum whose members carry the stored value, the label people read and a
slot for an external code (FHIR, for export; empty where nobody has mapped it yet). Forms
offer ``choices()``, the models store the value behind a CHECK constraint, templates show
``label``, and the CSV and the audit trail write the value. A label is written here once.

No Flask at import and no database here: the services, the models and the forms all
import it. Labels are translated when read (``_l`` below).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from babel.support import LazyProxy

# (language, text) -> the text in that language: catalogs do not change while a process
# runs, and the texts are the templates' and the code's own (never what someone typed),
# so this holds at most two entries per text.
_LABELS: dict[tuple[str | None, ...], str] = {}


def translated_once(text: str) -> str:
    """``text`` in the language of the request (English outside one), translated once per
    process and language: catalogs do not change while a process runs."""
    gettext = (_FLASK or _import_flask())[2]
    # A page reads dozens of labels (every state in the list, every radio) and sentences
    # (the templates' and the forms' own): each read through Flask-Babel finds the
    # request's context four times over (a quarter of a journey page's CPU, issue 28).
    # The text is translated once per process and language.
    language = settled_locale()
    if language is None:
        return gettext(text)
    key = (language.language, language.territory, language.script, text)
    try:
        return _LABELS[key]
    except KeyError:
        _LABELS[key] = translated = gettext(text)
        return translated


def settled_locale() -> Any:
    """The language Flask-Babel has settled for this request (a babel ``Locale``), or None
    when it has not yet (then ask ``flask_babel.get_locale()``, which settles it).

    The one place that reads Flask-Babel's own per-request state (``g._flask_babel``, where
    ``force_locale`` also puts another language): ``get_locale()`` costs four context
    lookups per call, and pages call it hundreds of times. Flask-Babel is pinned
    (constraints.txt), and tests/public/test_journey_cost.py fails if a release keeps
    the language elsewhere (this would then quietly fall back to the slow path)."""
    g, has_app_context, _ = _FLASK or _import_flask()
    babel = getattr(g, "_flask_babel", None) if has_app_context() else None
    return getattr(babel, "babel_locale", None)


_FLASK: tuple | None = None


def _import_flask() -> tuple:
    # Imported on first use: this module stays free of Flask at import time (the models,
    # the FHIR code and the migrations import it too). Once: an import statement in the
    # function itself cost a tenth of its time.
    global _FLASK
    from flask import g, has_app_context
    from flask_babel import gettext

    _FLASK = (g, has_app_context, gettext)
    return _FLASK


def _l(text: str) -> Any:
    """Marks a label for translation, and translates it each time it is read.

    Labels are built at import, before any request knows its language, so they are lazy:
    Babel's ``LazyProxy`` around Flask-Babel's ``gettext``, read in the language of the
    request reading it (English outside a request and on staff pages). ``pybabel extract``
    finds every label by this name (babel.cfg, the Makefile's ``catalog-extract``).
    """
    return LazyProxy(translated_once, text, enable_cache=False)


class Vocabulary(StrEnum):
    """A closed list of coded values: ``MEMBER = value, label`` or ``value, label, code``."""

    code: str | None

    def __new__(cls, value: str, label: Any, code: str | None = None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.lazy_label = label
        # The external code (for example FHIR's) where one is known; None until mapped.
        member.code = code
        return member

    @property
    def label(self) -> str:
        """What people read, as a plain string in the current request's language: safe for
        CSV, JSON, the audit trail, FHIR and sorting."""
        return str(self.lazy_label)

    @classmethod
    def choices(cls) -> list[tuple[str, Any]]:
        """(stored value, label) pairs, in the order the form offers them. The labels stay
        lazy: forms build their choices at import, and each page shows them in its own
        language."""
        return [(member.value, member.lazy_label) for member in cls]

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def label_for(cls, value: str | None) -> str:
        """The label of a stored value; empty for none or for a value not in the list."""
        try:
            return cls(value).label
        except ValueError:
            return ""


# The patient's answers -------------------------------------------------------------------


class Submitter(Vocabulary):
    # Stored as AppointmentRequest.submitted_by_patient (a boolean), not as this code.
    PATIENT = "patient", _l("I am the patient")
    SOMEONE_ELSE = "someone_else", _l("I am filling this in for the patient")


class Sex(Vocabulary):
    FEMALE = "female", _l("Female")
    MALE = "male", _l("Male")
    PREFER_NOT_TO_SAY = "prefer_not_to_say", _l("Prefer not to say")


class ContactMethod(Vocabulary):
    PHONE = "phone", _l("Phone")
    EMAIL = "email", _l("Email")
    EITHER = "either", _l("Either")


# Contact methods that use e-mail: the e-mail of whoever we contact first is then required.
BY_EMAIL = (ContactMethod.EMAIL, ContactMethod.EITHER)


class CallFirst(Vocabulary):
    """Asked only of someone filling in the form for the patient."""

    PATIENT = "patient", _l("The patient")
    CAREGIVER = "caregiver", _l("The person filling in this form")


class BestTime(Vocabulary):
    MORNING = "morning", _l("Morning (8 a.m. to noon)")
    AFTERNOON = "afternoon", _l("Afternoon (noon to 5 p.m.)")
    ANY = "any", _l("Any time")


class Language(Vocabulary):
    ENGLISH = "english", _l("English")
    SPANISH = "spanish", _l("Spanish")
    OTHER = "other", _l("Another language")


class YesNo(Vocabulary):
    # Stored as booleans (interpreter_needed, in_treatment, has_referral); offered as this.
    YES = "yes", _l("Yes")
    NO = "no", _l("No")


class YesNoNotSure(Vocabulary):
    YES = "yes", _l("Yes")
    NO = "no", _l("No")
    NOT_SURE = "not_sure", _l("Not sure")


class MetastasisSite(Vocabulary):
    LUNGS = "lungs", _l("Lungs")
    LIVER = "liver", _l("Liver")
    BONES = "bones", _l("Bones")
    BRAIN = "brain", _l("Brain")
    OTHER = "other", _l("Somewhere else")
    NOT_SURE = "not_sure", _l("Not sure")


class Insurance(Vocabulary):
    COMMERCIAL = "commercial", _l("Commercial or employer insurance")
    MEDICARE = "medicare", _l("Medicare")
    # A Medicare plan run by a private company: intake needs the company to check the
    # plan's network, which original Medicare does not have.
    MEDICARE_ADVANTAGE = "medicare_advantage", _l("Medicare Advantage")
    MEDICAID = "medicaid", _l("Medicaid")
    OTHER = "other", _l("Other insurance")
    NONE = "none", _l("No insurance / self-pay")


class PageLanguage(Vocabulary):
    """The language of the page a request was made on (not the patient's language)."""

    ENGLISH = "en", _l("English")
    SPANISH = "es", _l("Spanish")


class UsState(Vocabulary):
    """USPS codes: the states, the District of Columbia and the inhabited territories."""

    AL = "AL", _l("Alabama")
    AK = "AK", _l("Alaska")
    AZ = "AZ", _l("Arizona")
    AR = "AR", _l("Arkansas")
    CA = "CA", _l("California")
    CO = "CO", _l("Colorado")
    CT = "CT", _l("Connecticut")
    DE = "DE", _l("Delaware")
    DC = "DC", _l("District of Columbia")
    FL = "FL", _l("Florida")
    GA = "GA", _l("Georgia")
    HI = "HI", _l("Hawaii")
    ID = "ID", _l("Idaho")
    IL = "IL", _l("Illinois")
    IN = "IN", _l("Indiana")
    IA = "IA", _l("Iowa")
    KS = "KS", _l("Kansas")
    KY = "KY", _l("Kentucky")
    LA = "LA", _l("Louisiana")
    ME = "ME", _l("Maine")
    MD = "MD", _l("Maryland")
    MA = "MA", _l("Massachusetts")
    MI = "MI", _l("Michigan")
    MN = "MN", _l("Minnesota")
    MS = "MS", _l("Mississippi")
    MO = "MO", _l("Missouri")
    MT = "MT", _l("Montana")
    NE = "NE", _l("Nebraska")
    NV = "NV", _l("Nevada")
    NH = "NH", _l("New Hampshire")
    NJ = "NJ", _l("New Jersey")
    NM = "NM", _l("New Mexico")
    NY = "NY", _l("New York")
    NC = "NC", _l("North Carolina")
    ND = "ND", _l("North Dakota")
    OH = "OH", _l("Ohio")
    OK = "OK", _l("Oklahoma")
    OR = "OR", _l("Oregon")
    PA = "PA", _l("Pennsylvania")
    RI = "RI", _l("Rhode Island")
    SC = "SC", _l("South Carolina")
    SD = "SD", _l("South Dakota")
    TN = "TN", _l("Tennessee")
    TX = "TX", _l("Texas")
    UT = "UT", _l("Utah")
    VT = "VT", _l("Vermont")
    VA = "VA", _l("Virginia")
    WA = "WA", _l("Washington")
    WV = "WV", _l("West Virginia")
    WI = "WI", _l("Wisconsin")
    WY = "WY", _l("Wyoming")
    AS = "AS", _l("American Samoa")
    GU = "GU", _l("Guam")
    MP = "MP", _l("Northern Mariana Islands")
    PR = "PR", _l("Puerto Rico")
    VI = "VI", _l("U.S. Virgin Islands")


# Intake's work ---------------------------------------------------------------------------


class RequestStatus(Vocabulary):
    NEW = "new", _l("New")
    IN_PROGRESS = "in_progress", _l("In progress")
    CONTACTED = "contacted", _l("Contacted")
    AWAITING_RECORDS = "awaiting_records", _l("Awaiting records")
    SCHEDULED = "scheduled", _l("Scheduled")
    CLOSED = "closed", _l("Closed")


# Nobody has reached the patient yet: what can be overdue against the reply promise
# (app/requests/overdue.py).
AWAITING_FIRST_CONTACT = (RequestStatus.NEW, RequestStatus.IN_PROGRESS)

# Everything but closed: what can still be claimed, worked and closed, and what the queue
# shows by default ("Needing action"), so a request waiting for a callback, records or
# its appointment never drops out of sight.
NOT_CLOSED = (
    RequestStatus.NEW,
    RequestStatus.IN_PROGRESS,
    RequestStatus.CONTACTED,
    RequestStatus.AWAITING_RECORDS,
    RequestStatus.SCHEDULED,
)


class CloseReason(Vocabulary):
    DECLINED = "declined", _l("Declined")
    UNABLE_TO_REACH = "unable_to_reach", _l("Unable to reach")
    NOT_ELIGIBLE = "not_eligible", _l("Not eligible")
    DUPLICATE = "duplicate", _l("Duplicate")
    OTHER = "other", _l("Other")


class StaffRole(Vocabulary):
    INTAKE = "intake", _l("Intake")
    ADMIN = "admin", _l("Admin")


class EventKind(Vocabulary):
    """What a line of a request's history records."""

    CLAIM = "claim", _l("Claimed the request")
    RELEASE = "release", _l("Released the request to the queue")
    STATUS = "status", _l("Changed the status")
    NOTE = "note", _l("Added a note")
    REOPEN = "reopen", _l("Reopened the request")
    # The person who sent the request sent the form again with different answers (no
    # staff member: request_events.staff_id is empty). A new member needs a migration.
    RESENT_CHANGED = "resent_changed", _l("Sent the form again with different answers")
    # From the person's private page (issue 29), also without a staff member.
    CONTACT_CHANGED = "contact_changed", _l("Changed how to reach them")
    DOCUMENT_SENT = "document_sent", _l("Sent a document")
    RELEASE_SIGNED = "release_signed", _l("Signed a release for their records")
    # A staff member sent the person a fresh private link (the old one stopped working).
    LINK_SENT = "link_sent", _l("Sent a fresh private link")


class AuditAction(Vocabulary):
    """What an audit entry records. A new member needs a migration: the column's CHECK
    constraint lists every value."""

    SIGN_IN = "sign_in", _l("Signed in")
    SIGN_IN_FAILED = "sign_in_failed", _l("Sign-in failed")
    SIGN_OUT = "sign_out", _l("Signed out")
    VIEW_REQUEST = "view_request", _l("Viewed request")
    CLAIM = "claim", _l("Claimed request")
    RELEASE = "release", _l("Released request")
    STATUS_CHANGE = "status_change", _l("Changed status")
    NOTE = "note", _l("Added a note")
    EXPORT = "export", _l("Exported CSV")
    FHIR_EXPORT = "fhir_export", _l("Exported FHIR")
    PURGE = "purge_patient_data", _l("Removed patient data (retention)")
    REOPEN = "reopen", _l("Reopened request")
    QUEUE_VIEW = "queue_view", _l("Viewed the queue")
    QUEUE_SEARCH = "queue_search", _l("Searched the queue")
    # The coordinator's working day: pages that list patients or their figures.
    MY_WORK_VIEW = "my_work_view", _l("Viewed My work")
    METRICS_VIEW = "metrics_view", _l("Viewed the access metrics")
    METRICS_EXPORT = "metrics_export", _l("Exported the access metrics (CSV)")
    ACCESS_DENIED = "access_denied", _l("Refused: not allowed")
    SIGN_IN_REQUIRED = "sign_in_required", _l("Refused: not signed in")
    ACCOUNT_CREATED = "account_created", _l("Created an account")
    PASSWORD_SET = "password_set", _l("Set a password")  # noqa: S105 (an action)
    ACCOUNT_DEACTIVATED = "account_deactivated", _l("Deactivated an account")
    EMERGENCY_ACCOUNT_CREATED = "emergency_account_created", _l("Created an emergency account")
    RETENTION_RUN = "retention_run", _l("Ran retention")
    STALE_REQUEST = "stale_request", _l("Request untouched too long")
    AUDIT_ENTRIES_REMOVED = "audit_entries_removed", _l("Removed old audit entries (retention)")
    OUTBOX_SEND_AGAIN = "outbox_send_again", _l("Queued an e-mail to send again")
    # Staff account security: second factor, throttling, sessions, account management.
    SECOND_FACTOR_FAILED = "second_factor_failed", _l("Second factor failed")
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled", _l("Set up an authenticator app")
    RECOVERY_CODE_USED = "recovery_code_used", _l("Used a recovery code")
    SIGN_IN_THROTTLED = (
        "sign_in_throttled",
        _l("Sign-in refused: too many failures from one address"),
    )
    SIGN_IN_STORM = "sign_in_storm", _l("Many failed sign-ins against one account")
    SESSION_EXPIRED = "session_expired", _l("Session reached its time limit")
    PROOF_CONFIRMED = "proof_confirmed", _l("Confirmed identity again")
    PASSWORD_CHANGED = "password_changed", _l("Changed password")  # noqa: S105 (an action)
    ACCOUNT_LINK_ISSUED = "account_link_issued", _l("Issued a set-up link")
    ACCOUNT_LINK_USED = "account_link_used", _l("Used a set-up link")
    ROLE_CHANGED = "role_changed", _l("Changed a role")
    ACCOUNT_REACTIVATED = "account_reactivated", _l("Reactivated an account")
    SECOND_FACTOR_RESET = "second_factor_reset", _l("Reset a second factor")
    SESSIONS_ENDED = "sessions_ended", _l("Ended an account's sessions")
    PASSKEY_ADDED = "passkey_added", _l("Added a passkey")
    PASSKEY_REMOVED = "passkey_removed", _l("Removed a passkey")
    PASSKEY_USED = "passkey_used", _l("Signed in with a passkey")
    PASSKEY_FAILED = "passkey_failed", _l("Passkey refused")
    # Issue 26: wrong codes limited per account; set-up only through a one-time link.
    SECOND_FACTOR_WAIT = (
        "second_factor_wait",
        _l("Code step paused: too many wrong codes for the account"),
    )
    SECOND_FACTOR_SET_UP_BEGUN = (
        "second_factor_set_up_begun",
        _l("Began setting up an authenticator app"),
    )
    # Issue 32: an account's link to its hospital account removed (migration 0019).
    PROVIDER_UNLINKED = "provider_unlinked", _l("Unlinked an account from the hospital's sign-in")

    # The person's private page (issue 29): no staff member on the public entries.
    PATIENT_LINK_ISSUED = "patient_link_issued", _l("Sent a private link")
    PATIENT_LINK_CHECKED = "patient_link_checked", _l("Opened the private page (date of birth)")
    PATIENT_LINK_REFUSED = "patient_link_refused", _l("Private page: wrong date of birth")
    PATIENT_CONTACT_CHANGED = "patient_contact_changed", _l("The person changed how to reach them")
    DOCUMENT_RECEIVED = "document_received", _l("Received a document")
    DOCUMENT_HELD = "document_held", _l("Held a document (virus scan)")
    DOCUMENT_SCANNED = "document_scanned", _l("Scanned a held document")
    DOCUMENT_PREVIEWED = "document_previewed", _l("Previewed a document")
    DOCUMENT_DOWNLOADED = "document_downloaded", _l("Downloaded a document")
    RELEASE_SIGNED = "release_signed", _l("The person signed a release")
    RELEASE_VIEWED = "release_viewed", _l("Viewed a signed release")
    PATIENT_NEWS_SEEN = "patient_news_seen", _l("Marked the person's changes as seen")
    # What ops see (issue 30): the journey's funnel, counts only.
    JOURNEY_VIEW = "journey_view", _l("Viewed the journey's funnel")


# The e-mail outbox ------------------------------------------------------------------------


class OutboxStatus(Vocabulary):
    PENDING = "pending", _l("Waiting to be sent")
    SENDING = "sending", _l("Being sent")
    SENT = "sent", _l("Sent")
    FAILED = "failed", _l("Failed")


class MessageKind(Vocabulary):
    CONFIRMATION = "confirmation", _l("Confirmation to the person")
    INTAKE_ALERT = "intake_alert", _l("New-request alert to intake")
    # The private link to a request's page, sent again (asked for, or sent by staff).
    REQUEST_LINK = "request_link", _l("Private link to the person")


# The person's private page (issue 29) ------------------------------------------------------


class DocumentKind(Vocabulary):
    """What a record sent from the private page is: the person picks one per file."""

    # The third element: the LOINC document type a FHIR DocumentReference carries.
    PATHOLOGY = "pathology", _l("Pathology report (biopsy results)"), "11526-1"
    IMAGING = "imaging", _l("Imaging report (scan or X-ray results)"), "18748-4"
    TREATMENT = "treatment", _l("Treatment summary or list of medicines"), "34133-9"
    REFERRAL_LETTER = "referral_letter", _l("Referral letter"), "57133-1"
    INSURANCE_FRONT = "insurance_front", _l("Insurance card, front")
    INSURANCE_BACK = "insurance_back", _l("Insurance card, back")
    OTHER = "other", _l("Another medical record")


class ScanStatus(Vocabulary):
    """The virus scan of a document (clamd). Only CLEAN documents are ever shown."""

    PENDING = "pending", _l("Not yet scanned")
    CLEAN = "clean", _l("Clean")
    FLAGGED = "flagged", _l("Flagged by the virus scan")


class RecordHolder(Vocabulary):
    """Who holds records the person asks the center to fetch (a release)."""

    DOCTOR = "doctor", _l("A doctor or doctor's office")
    HOSPITAL = "hospital", _l("A hospital, clinic or imaging center")


class Signer(Vocabulary):
    """Who signs a release: the patient, or someone with legal authority for them."""

    PATIENT = "patient", _l("I am the patient")
    REPRESENTATIVE = (
        "representative",
        _l(
            "I am the patient's legal representative (for example, health care power of attorney"
            " or guardian)"
        ),
    )


# What ops see (issue 30) --------------------------------------------------------------------


class JourneyStage(Vocabulary):
    """How far a draft of the request journey got, in order. The first page is served
    from a cache without reaching the app, so the first thing counted is its post
    (``BEGAN``, the draft made); each step after it counts when the person is sent to it.
    The values of the steps are those of ``app/requests/fields.py``'s ``Step``."""

    BEGAN = "began", _l("Began (sent the first page)")
    PATIENT = "patient", _l("Reached: about the patient")
    CONTACT = "contact", _l("Reached: how to reach them")
    DIAGNOSIS = "diagnosis", _l("Reached: the diagnosis")
    INSURANCE = "insurance", _l("Reached: insurance and referral")
    CONSENT = "consent", _l("Reached: anything else and consent")
    CHECK = "check", _l("Reached: check your answers")
    SENT = "sent", _l("Sent the request")


class DeviceClass(Vocabulary):
    """The kind of device a journey began on, from the User-Agent alone (MDN's rule:
    "Mobi" anywhere means a phone). Tablets say they are computers (an iPad's Safari sends
    a Mac's User-Agent), so they count as computers."""

    PHONE = "phone", _l("Phones")
    COMPUTER = "computer", _l("Computers and tablets")


class SignInOutcome(Vocabulary):
    """How a staff sign-in attempt ended, for the metrics (counts, no account)."""

    SUCCESS = "success", _l("Signed in")
    WRONG_PASSWORD = "wrong_password", _l("Wrong password or unknown account")  # noqa: S105
    WRONG_CODE = "wrong_code", _l("Wrong code or passkey")
    THROTTLED = "throttled", _l("Refused: too many failures")


# Every vocabulary by name, for the ``label`` template filter when a value arrives as a
# plain string (the metastasis sites, stored as a JSON list of codes).
BY_NAME: dict[str, type[Vocabulary]] = {
    cls.__name__: cls
    for cls in (
        Submitter,
        Sex,
        ContactMethod,
        CallFirst,
        BestTime,
        Language,
        PageLanguage,
        YesNo,
        YesNoNotSure,
        MetastasisSite,
        Insurance,
        UsState,
        RequestStatus,
        CloseReason,
        StaffRole,
        EventKind,
        AuditAction,
        OutboxStatus,
        MessageKind,
        DocumentKind,
        ScanStatus,
        RecordHolder,
        Signer,
        JourneyStage,
        DeviceClass,
        SignInOutcome,
    )
}
