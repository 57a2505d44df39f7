"""Typed SQLAlchemy 2 models.

Column sizes here are the limits the forms enforce; keep the two in step.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The coded values live in the vocabulary; the models are where most code meets them.
from app.vocabulary import (
    AuditAction,
    BestTime,
    CallFirst,
    CloseReason,
    ContactMethod,
    DeviceClass,
    DocumentKind,
    EventKind,
    Insurance,
    JourneyStage,
    Language,
    MessageKind,
    OutboxStatus,
    PageLanguage,
    RequestStatus,
    ScanStatus,
    Sex,
    Signer,
    StaffRole,
    UsState,
    YesNoNotSure,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str, length: int = 20) -> Enum:
    # Stored as the enum's value in a VARCHAR with a CHECK constraint: portable between
    # SQLite and PostgreSQL, and adding a value later is a plain migration.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, always in UTC and aware of it in Python, whatever the database.

    SQLite keeps a datetime's wall-clock time and drops its zone (and hands back naive
    datetimes); PostgreSQL's timestamptz comes back in the connection's zone. So every
    value is converted to UTC on its way in and comes back aware, in UTC, on its way out:
    no code compares a naive time with an aware one or converts by hand. A naive value
    given to it is taken as UTC (SQLite's CURRENT_TIMESTAMP is)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else _in_utc(value)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else _in_utc(value)


def _in_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Field sizes, shared with the forms.
NAME_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 16  # E.164: '+' and at most 15 digits
EXTENSION_MAX = 10  # digits only, kept apart from the E.164 number
SHORT_TEXT_MAX = 100
MESSAGE_MAX = 2000
REFERENCE_LENGTH = 12
TOKEN_MAX = 64


# What the access metrics read of a request (app/requests/access_metrics.py).
METRICS_COLUMNS = [
    "has_referral",
    "language",
    "status",
    "reply_due_at",
    "first_contact_at",
    "contact_business_minutes",
]


class AppointmentRequest(Base):
    """A new-patient appointment request, as submitted, and where intake has got to."""

    __tablename__ = "appointment_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH), unique=True)
    # The one-time token rendered into the form: a resubmission of the same filled-in
    # form finds its request instead of storing a second one.
    submission_token: Mapped[str] = mapped_column(String(TOKEN_MAX), unique=True)
    status: Mapped[RequestStatus] = mapped_column(
        _enum(RequestStatus, "request_status"), default=RequestStatus.NEW
    )
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())

    # Who filled in the form.
    submitted_by_patient: Mapped[bool] = mapped_column(Boolean)
    submitter_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    submitter_relationship: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))
    submitter_phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    submitter_phone_ext: Mapped[str | None] = mapped_column(String(EXTENSION_MAX))
    submitter_email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    call_first: Mapped[CallFirst | None] = mapped_column(_enum(CallFirst, "call_first", 10))

    # The patient.
    first_name: Mapped[str] = mapped_column(String(NAME_MAX))
    last_name: Mapped[str] = mapped_column(String(NAME_MAX))
    # Nullable only so that `flask intake purge` can remove it; the form requires it.
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[Sex | None] = mapped_column(_enum(Sex, "sex"))
    # Required by the form only when e-mail is the way to reach the patient.
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    phone: Mapped[str] = mapped_column(String(PHONE_MAX))
    phone_ext: Mapped[str | None] = mapped_column(String(EXTENSION_MAX))
    contact_method: Mapped[ContactMethod] = mapped_column(
        _enum(ContactMethod, "contact_method", 10)
    )
    best_time_to_call: Mapped[BestTime] = mapped_column(_enum(BestTime, "best_time_to_call"))
    state: Mapped[UsState] = mapped_column(_enum(UsState, "state", 2))
    zip_code: Mapped[str] = mapped_column(String(10))
    language: Mapped[Language] = mapped_column(_enum(Language, "language", 10))
    language_other: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))
    interpreter_needed: Mapped[bool] = mapped_column(Boolean)

    # What they know of the diagnosis.
    diagnosed_metastatic: Mapped[YesNoNotSure] = mapped_column(
        _enum(YesNoNotSure, "diagnosed_metastatic", 10)
    )
    # MetastasisSite codes. A JSON list has no portable CHECK: the form is its guard.
    metastasis_sites: Mapped[list[str]] = mapped_column(JSON, default=list)
    in_treatment: Mapped[bool] = mapped_column(Boolean)

    insurance_type: Mapped[Insurance] = mapped_column(_enum(Insurance, "insurance_type"))
    insurance_carrier: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))

    has_referral: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str | None] = mapped_column(Text)
    consent_to_contact: Mapped[bool] = mapped_column(Boolean)
    # The language of the page the request was made on (the English or the Spanish form).
    form_language: Mapped[PageLanguage] = mapped_column(
        _enum(PageLanguage, "form_language", 2),
        default=PageLanguage.ENGLISH,
        server_default=PageLanguage.ENGLISH.value,
    )

    # Intake's work on it.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_reason: Mapped[CloseReason | None] = mapped_column(_enum(CloseReason, "close_reason"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Set when `flask intake purge` removes patient data after retention ends.
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    # The coordinator's working day (issue 16). Computed by the business clock when the
    # request arrives and stored, so the queue filters and sorts on them in SQL.
    reply_due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_on: Mapped[date] = mapped_column(Date)  # the center's local date
    # Set by the moves: when to call back, the appointment, and the first contact
    # (with the business minutes it took, for the access metrics).
    callback_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    appointment_on: Mapped[date | None] = mapped_column(Date)
    first_contact_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    contact_business_minutes: Mapped[int | None] = mapped_column(Integer)

    # What the person did on their private page (issue 29), for the marks staff see in the
    # queue and on the request until someone presses "Mark as seen".
    contact_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    documents_added_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    patient_news_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    referral: Mapped[Referral | None] = relationship(
        back_populates="request", uselist=False, cascade="all, delete-orphan", lazy="raise"
    )
    claimed_by: Mapped[StaffUser | None] = relationship(lazy="raise")

    __table_args__ = (
        # The queue: open requests oldest first, with the id as keyset tie-breaker.
        Index("ix_appointment_requests_status_submitted", "status", "submitted_at", "id"),
        Index("ix_appointment_requests_submitted", "submitted_at", "id"),
        Index("ix_appointment_requests_claimed_by", "claimed_by_id"),
        # Search (a prefix: LIKE 'word%') and duplicate detection (equality). On
        # PostgreSQL, text_pattern_ops lets LIKE use them whatever the collation.
        Index(
            "ix_appointment_requests_last_name_lower",
            func.lower(last_name).label("last_name_lower"),
            postgresql_ops={"last_name_lower": "text_pattern_ops"},
        ),
        Index(
            "ix_appointment_requests_first_name_lower",
            func.lower(first_name).label("first_name_lower"),
            postgresql_ops={"first_name_lower": "text_pattern_ops"},
        ),
        Index("ix_appointment_requests_dob", "date_of_birth"),
        Index("ix_appointment_requests_email", "email"),
        Index("ix_appointment_requests_phone", "phone"),
        # Take the next request: the oldest unclaimed one that is not closed.
        Index(
            "ix_appointment_requests_unclaimed",
            "submitted_at",
            "id",
            postgresql_where=text("claimed_by_id IS NULL AND status <> 'closed'"),
            sqlite_where=text("claimed_by_id IS NULL AND status <> 'closed'"),
        ),
        # Overdue counts: requests awaiting first contact whose reply is past due.
        Index("ix_appointment_requests_status_due", "status", "reply_due_at"),
        # Access metrics: a period of received dates.
        # On PostgreSQL it carries every column the metrics read: an index-only scan.
        Index(
            "ix_appointment_requests_received_on",
            "received_on",
            postgresql_include=METRICS_COLUMNS,
        ),
    )


class Referral(Base):
    """The referring physician, stored only when the person says there is a referral."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_requests.id", ondelete="CASCADE"), unique=True
    )
    physician_name: Mapped[str] = mapped_column(String(NAME_MAX))
    physician_phone: Mapped[str] = mapped_column(String(PHONE_MAX))
    physician_phone_ext: Mapped[str | None] = mapped_column(String(EXTENSION_MAX))
    practice: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))
    fax: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    npi: Mapped[str | None] = mapped_column(String(10))

    request: Mapped[AppointmentRequest] = relationship(back_populates="referral", lazy="raise")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Wrong second-factor codes (app or recovery) since the last finished sign-in, from
    # any address; at STAFF_CODE_ATTEMPTS the code step waits until ``codes_wait_until``
    # (app/accounts/second_factor.py). Wrong passwords never count here: anyone who knows
    # a staff address could send them.
    wrong_codes: Mapped[int] = mapped_column(Integer, default=0)
    codes_wait_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Changed at every sign-in and sign-out; a session cookie that carries an older
    # value is no longer accepted, so signing out ends the session everywhere.
    session_nonce: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    # The hospital's identity provider (issue 32): the account's stable subject there,
    # linked at its first provider sign-in and matched on alone afterwards. Unique per
    # issuer, so one person at the provider is at most one account here.
    oidc_issuer: Mapped[str | None] = mapped_column(String(255))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    # With OIDC_ISSUER set, only these accounts may still sign in with a local password:
    # the ones made from the server's command line (the first admin, break-glass).
    local_sign_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Made by OIDC_GROUP_ROLES at a first provider sign-in: its role follows the provider's
    # groups at every sign-in, and without a mapped group it has no access.
    role_from_groups: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        Index("uq_staff_users_oidc_subject", "oidc_issuer", "oidc_subject", unique=True),
    )


class RequestEvent(Base):
    """The history of a request: claims, releases, status changes and notes. Append-only."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("appointment_requests.id"))
    # None for what the person who sent the request did (a re-send with changed answers).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "kind"))
    from_status: Mapped[RequestStatus | None] = mapped_column(_enum(RequestStatus, "from_status"))
    to_status: Mapped[RequestStatus | None] = mapped_column(_enum(RequestStatus, "to_status"))
    close_reason: Mapped[CloseReason | None] = mapped_column(_enum(CloseReason, "close_reason"))
    note: Mapped[str | None] = mapped_column(Text)
    # What a move set (issue 16): the callback time, or the appointment date.
    callback_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    appointment_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())

    staff: Mapped[StaffUser | None] = relationship(lazy="raise")

    __table_args__ = (Index("ix_request_events_request", "request_id", "id"),)


class AuditEvent(Base):
    """Who did what, when, to which request. Append-only; holds no patient data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # The email typed at a failed sign-in, when no account matched: a staff address,
    # never a patient's.
    actor_email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    action: Mapped[AuditAction] = mapped_column(_enum(AuditAction, "action", 40))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_requests.id"))
    from_value: Mapped[str | None] = mapped_column(String(40))
    to_value: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(255))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    # Done by an emergency ("break-glass") account: shown to admins on the audit page.
    emergency: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The hash chain (app/audit/chain.py): each entry's keyed hash covers its
    # content and the previous entry's hash, so a changed, removed or inserted row shows.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))

    staff: Mapped[StaffUser | None] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_audit_events_staff", "staff_id", "id"),
        Index("ix_audit_events_request", "request_id", "id"),
    )


# --- Audit, retention and emergency access (issue 14) ---


class EmergencyAccess(Base):
    """A break-glass account: made with `flask staff break-glass`, usable until it
    expires, and every action it takes is flagged in the audit trail."""

    __tablename__ = "emergency_access"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())


# --- E-mail outbox (issue 18) -------------------------------------------------------------


class OutboxMessage(Base):
    """An e-mail waiting to be sent, being sent, or sent: the transactional outbox.

    Written in the same transaction as what it tells of, delivered by `flask outbox work`.
    The address and the payload are removed once delivered (or after OUTBOX_KEEP_DAYS);
    the keyed hash of the address stays for the audit trail.
    """

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind, "message_kind"))
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    # The message's Message-ID is built from this, so a re-send after a crash between
    # sending and marking sent is the same message, never a new one.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    locale: Mapped[str] = mapped_column(String(10), default="en")
    request_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_requests.id"))
    # Intake alerts form a chain: each one's key names the alert before it, so two
    # workers that both decide an alert is due store only one.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The last request an intake alert counted; the next one counts those after it.
    covers_through_id: Mapped[int | None] = mapped_column(Integer)
    # The same for documents sent from the private pages (issue 29).
    covers_documents_through_id: Mapped[int | None] = mapped_column(Integer)
    recipient: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    recipient_hash: Mapped[str | None] = mapped_column(String(64))
    # SQL NULL once removed (not JSON's null), so "has a body" is a plain IS NOT NULL.
    payload: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    # Which claim holds the message and until when; a dead worker's lease runs out.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        # The worker's claim: due messages in order.
        Index("ix_outbox_messages_status_next", "status", "next_attempt_at", "id"),
        Index("ix_outbox_messages_kind_id", "kind", "id"),
        Index("ix_outbox_messages_created", "created_at"),
    )


# --- Staff account security (issue 13): second factor, recovery codes, invitations. ---
# Kept in tables of their own beside staff_users, so the account row stays as it was.


class StaffSecondFactor(Base):
    """An account's authenticator app (TOTP). ``confirmed_at`` is empty until the person
    has typed a first code from it; until then it is only an enrolment in progress."""

    __tablename__ = "staff_second_factors"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    # Base32, as authenticator apps take it. It must be readable to check a code, so it
    # cannot be hashed; the database's disk encryption and backups protect it (docs/security.md).
    totp_secret: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The 30-second step of the last code accepted: a code is never accepted twice, and
    # neither is an older one.
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())


class StaffRecoveryCode(Base):
    """One of ten single-use codes for a lost authenticator. Only a hash is stored."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_staff_recovery_codes_staff", "staff_id"),)


class StaffInvitation(Base):
    """A one-time link for a new account (or a reset one) to set its own password and
    second factor. Only a hash of the link's token is stored."""

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # True: the link sets a new password, then the second factor (a new account made in
    # the app, a forgotten password). False: the account keeps its password, which the
    # link asks for, and sets up its second factor (an account made on the command line,
    # a second-factor reset).
    sets_password: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    __table_args__ = (Index("ix_staff_invitations_staff", "staff_id"),)


class StaffSignIn(Base):
    """A sign-in in progress: between a right password and a right code, or between a
    set-up link and the first code of a new authenticator app.

    Kept here, not in the cookie, so that it is used once (ended by a finished sign-in,
    by too many wrong codes, or by a newer set-up), and bound to one browser: that
    browser's session cookie holds a random key, and only the key's hash is stored.
    A set-up carries the authenticator secret drawn for it: the account's own secret is
    written only when a first code from it is right."""

    __tablename__ = "staff_sign_ins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Only for a set-up: the new authenticator's secret (base32), shown to this browser.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_staff_sign_ins_staff", "staff_id"),)


class StaffPasskey(Base):
    """A passkey (WebAuthn credential) an account may use as its second factor instead of
    a code. Only the public key is stored; the private key never leaves the device."""

    __tablename__ = "staff_passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    # base64url of the credential id (at most 1,023 bytes by the WebAuthn spec).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The authenticator's signature counter: one that goes backwards means a cloned key.
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_staff_passkeys_staff", "staff_id"),)


# The coordinator's working day (issue 16) ------------------------------------------------


class HeldNote(Base):
    """A note that arrived after its writer's session had ended (idle sign-out): kept
    here, server-side, for that staff member and that request, and offered back in the
    note box when they sign in again. Never in a URL, a cookie or a log line; deleted
    when offered back."""

    __tablename__ = "held_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    note: Mapped[str] = mapped_column(Text)
    held_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())

    __table_args__ = (Index("ix_held_notes_staff_reference", "staff_id", "reference"),)


class HeldSearch(Base):
    """A queue search by name or reference, held server-side for the staff member who
    typed it (issue 31): the search form is posted and answered with a redirect to a
    results page whose address carries only ``token``, so a patient's name is never in
    an address, the browser's history or a log line, and Back never asks to send a form
    again. Kept for a working day at most (app/requests/held_searches.py)."""

    __tablename__ = "held_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(32), unique=True)
    search: Mapped[str] = mapped_column(String(NAME_MAX))
    held_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())

    __table_args__ = (Index("ix_held_searches_held_at", "held_at"),)


# The public's journey (issue 15) ------------------------------------------------------------


class RequestDraft(Base):
    """The answers of a request being filled in, between the journey's pages.

    Patient data: found only through ``key``, a random value kept in the browser's signed
    session cookie (never in a URL), never logged, its answers removed when the request is
    sent and the whole row once ``expires_at`` has passed (``flask intake purge-drafts``
    and the retention run). Once sent, the row keeps only the form token and the reference,
    so that the journey's pages in that browser say "you sent this request" instead of
    starting a second one, and a late re-send finds the request it already made."""

    __tablename__ = "request_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(TOKEN_MAX), unique=True)
    # The request's one-time token (appointment_requests.submission_token once sent).
    form_token: Mapped[str] = mapped_column(String(TOKEN_MAX), unique=True)
    # Form field name -> what was typed (a list for check boxes); NULL once sent.
    answers: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    # The pages posted at least once: their problems are shown when the page is shown again.
    checked_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_reference: Mapped[str | None] = mapped_column(String(REFERENCE_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The journey's funnel (issue 30, app/requests/journey_funnel.py): the furthest stage
    # this draft was counted at, so a page reached twice counts once; and the day (the
    # center's date), device class and language it began with, under which every stage it
    # reaches is counted. Empty for drafts begun before counting started.
    funnel_stage: Mapped[JourneyStage | None] = mapped_column(_enum(JourneyStage, "funnel_stage"))
    funnel_day: Mapped[date | None] = mapped_column(Date)
    funnel_device: Mapped[DeviceClass | None] = mapped_column(_enum(DeviceClass, "funnel_device"))
    funnel_language: Mapped[PageLanguage | None] = mapped_column(
        _enum(PageLanguage, "funnel_language", 2)
    )

    __table_args__ = (Index("ix_request_drafts_expires_at", "expires_at"),)


# After sending (issue 29): the person's private page ---------------------------------------

# The largest file name a document may have on disk (RECORDS_PATH): its SHA-256 and suffix.
STORAGE_KEY_MAX = 80
SCAN_DETAIL_MAX = 100


class RequestLink(Base):
    """The private link of a request: only a keyed hash of its random token is stored.

    One link works at a time: sending a fresh one (staff, or the person asking again) marks
    the one before ``replaced_at``, and a browser that opened the old one is asked again.
    It works until the request has been closed for PATIENT_LINK_DAYS_AFTER_CLOSING days.
    """

    __tablename__ = "request_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_requests.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    replaced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Wrong dates of birth typed for this link, and until when it refuses answers.
    failed_checks: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_request_links_request", "request_id", "id"),)


class RequestDocument(Base):
    """A record the person sent from their private page.

    Staff see it only once clamd has found it clean (``scan_status``); one flagged, or not
    yet scanned, is kept apart and never served. The bytes are in ``content`` (the
    default: one transaction with its audit entry) or, with RECORDS_PATH set, in a file
    named ``storage_key``. ``sha256`` is of the file as sent, so the same file sent twice
    (a double tap, a retry after a lost answer) is kept once.
    """

    __tablename__ = "request_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_requests.id", ondelete="CASCADE")
    )
    kind: Mapped[DocumentKind] = mapped_column(_enum(DocumentKind, "document_kind"))
    sha256: Mapped[str] = mapped_column(String(64))
    # What is kept (a re-encoded image is always JPEG or PNG; a PDF is kept as sent).
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    scan_status: Mapped[ScanStatus] = mapped_column(
        _enum(ScanStatus, "scan_status"), default=ScanStatus.PENDING
    )
    # The signature clamd named, or why the scan could not be made; never patient data.
    scan_detail: Mapped[str | None] = mapped_column(String(SCAN_DETAIL_MAX))
    scanned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Deferred: lists of documents never load the bytes.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    storage_key: Mapped[str | None] = mapped_column(String(STORAGE_KEY_MAX))

    __table_args__ = (
        Index("ix_request_documents_request_sha256", "request_id", "sha256", unique=True),
        # Held documents, for `flask records scan`.
        Index("ix_request_documents_scan_status", "scan_status", "id"),
    )


class RecordsRelease(Base):
    """A signed authorization for the center to ask doctors and hospitals for the person's
    records (HIPAA 45 CFR 164.508). ``text`` is the exact text the signer read, in the
    language they read it; the signature is the typed name and date beside it."""

    __tablename__ = "records_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("appointment_requests.id", ondelete="CASCADE")
    )
    # [{"kind": RecordHolder, "name": ..., "city": ..., "phone": ...}, ...]
    holders: Mapped[list[dict]] = mapped_column(JSON, default=list)
    # DocumentKind codes: what may be shared.
    records: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_on: Mapped[date | None] = mapped_column(Date)
    signer: Mapped[Signer] = mapped_column(_enum(Signer, "signer"))
    signer_name: Mapped[str] = mapped_column(String(NAME_MAX))
    # For a representative: their authority (power of attorney, guardian...).
    signer_authority: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))
    signed_on: Mapped[date | None] = mapped_column(Date)  # the date typed beside the name
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime(), server_default=func.now())
    language: Mapped[str] = mapped_column(String(2))
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_records_releases_request", "request_id", "id"),)


class JourneyFunnelDay(Base):
    """The request journey's funnel, counted without patient data (issue 30): how many
    drafts begun on a day (the center's date) reached each stage, by the device class and
    language they began with. Nothing here names a visitor: no key, no address, no answer.
    One row per (day, stage, device, language), its count raised in the step's own
    transaction (app/requests/journey_funnel.py)."""

    __tablename__ = "journey_funnel_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stage: Mapped[JourneyStage] = mapped_column(_enum(JourneyStage, "stage"), primary_key=True)
    device: Mapped[DeviceClass] = mapped_column(_enum(DeviceClass, "device"), primary_key=True)
    language: Mapped[PageLanguage] = mapped_column(
        _enum(PageLanguage, "language", 2), primary_key=True
    )
    drafts: Mapped[int] = mapped_column(Integer, default=0)
