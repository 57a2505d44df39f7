"""Typed SQLAlchemy 2 models.

Column sizes here are the limits the forms enforce; keep the two in step.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as the enum's value in a VARCHAR with a CHECK constraint: portable between
    # SQLite and PostgreSQL, and adding a value later is a plain migration.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class RequestStatus(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    CONTACTED = "contacted"
    SCHEDULED = "scheduled"
    CLOSED = "closed"


OPEN_STATUSES = (RequestStatus.NEW, RequestStatus.IN_PROGRESS)


class CloseReason(enum.StrEnum):
    DECLINED = "declined"
    UNABLE_TO_REACH = "unable_to_reach"
    NOT_ELIGIBLE = "not_eligible"
    DUPLICATE = "duplicate"
    OTHER = "other"


class StaffRole(enum.StrEnum):
    INTAKE = "intake"
    ADMIN = "admin"


# Field sizes, shared with the forms.
NAME_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 16  # E.164: '+' and at most 15 digits
SHORT_TEXT_MAX = 100
MESSAGE_MAX = 2000
REFERENCE_LENGTH = 12
TOKEN_MAX = 64


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
    submitted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    # Who filled in the form.
    submitted_by_patient: Mapped[bool] = mapped_column(Boolean)
    submitter_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    submitter_relationship: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))
    submitter_phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))

    # The patient.
    first_name: Mapped[str] = mapped_column(String(NAME_MAX))
    last_name: Mapped[str] = mapped_column(String(NAME_MAX))
    # Nullable only so that `flask intake purge` can remove it; the form requires it.
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX))
    phone: Mapped[str] = mapped_column(String(PHONE_MAX))
    contact_method: Mapped[str] = mapped_column(String(10))
    best_time_to_call: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(2))
    zip_code: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(10))
    language_other: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))
    interpreter_needed: Mapped[bool] = mapped_column(Boolean)

    # What they know of the diagnosis.
    diagnosed_metastatic: Mapped[str] = mapped_column(String(10))
    metastasis_sites: Mapped[list[str]] = mapped_column(JSON, default=list)
    in_treatment: Mapped[bool] = mapped_column(Boolean)

    insurance_type: Mapped[str] = mapped_column(String(20))
    insurance_carrier: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))

    has_referral: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str | None] = mapped_column(Text)
    consent_to_contact: Mapped[bool] = mapped_column(Boolean)

    # Intake's work on it.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[CloseReason | None] = mapped_column(_enum(CloseReason, "close_reason"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when `flask intake purge` removes patient data after retention ends.
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

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
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Changed at every sign-in and sign-out; a session cookie that carries an older
    # value is no longer accepted, so signing out ends the session everywhere.
    session_nonce: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RequestEvent(Base):
    """The history of a request: claims, releases, status changes and notes. Append-only."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("appointment_requests.id"))
    # None for what the person who sent the request did (a re-send with changed answers).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    close_reason: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    staff: Mapped[StaffUser | None] = relationship(lazy="raise")

    __table_args__ = (Index("ix_request_events_request", "request_id", "id"),)


class AuditEvent(Base):
    """Who did what, when, to which request. Append-only; holds no patient data."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # The email typed at a failed sign-in, when no account matched: a staff address,
    # never a patient's.
    actor_email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    action: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_requests.id"))
    from_value: Mapped[str | None] = mapped_column(String(40))
    to_value: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(255))
    client_ip: Mapped[str | None] = mapped_column(String(45))

    staff: Mapped[StaffUser | None] = relationship(lazy="raise")

    __table_args__ = (
        Index("ix_audit_events_staff", "staff_id", "id"),
        Index("ix_audit_events_request", "request_id", "id"),
    )
