from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.common.validation import npi_is_valid
from app.models import AppointmentRequest, RequestStatus
from app.requests import reference_codes
from app.requests.appointment_requests import NewRequest, ReferralDetails, submit_request
from app.requests.intake_queue import QueueFilters, queue_page
from tests.support.staff import request_details


def _details(**changes) -> NewRequest:
    return request_details(**changes)


def test_submitting_the_same_token_twice_returns_the_first_reference(db):
    first = submit_request(db, details=_details(), token="t" * 32)
    second = submit_request(db, details=_details(first_name="Other"), token="t" * 32)
    db.commit()
    assert first.created and not second.created
    assert first.reference == second.reference
    assert db.scalar(select(func.count()).select_from(AppointmentRequest)) == 1


def test_a_referral_is_stored_with_its_request(db):
    referral = ReferralDetails(physician_name="Dr. Lee", physician_phone="+17275550142")
    submit_request(db, details=_details(referral=referral), token="r" * 32)
    db.commit()
    row = db.scalars(select(AppointmentRequest)).one()
    assert row.has_referral is True


def test_the_open_queue_is_oldest_first_and_leaves_out_finished_requests(db):
    refs = {}
    for i, status in enumerate(
        [
            RequestStatus.NEW,
            RequestStatus.CLOSED,
            RequestStatus.IN_PROGRESS,
            RequestStatus.SCHEDULED,
            RequestStatus.NEW,
        ]
    ):
        refs[i] = submit_request(db, details=_details(), token=f"token-{i:02d}-" + "x" * 20)
        db.execute(
            update(AppointmentRequest)
            .where(AppointmentRequest.reference == refs[i].reference)
            .values(
                status=status, submitted_at=datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=i)
            )
        )
    db.commit()
    # The queue intake works from (open requests is its default filter).
    page = queue_page(db, filters=QueueFilters(), viewer_id=0, now=datetime.now(UTC))
    queue = [r.reference for r in page.rows]
    # Scheduled needs action too (closing after the visit); closed does not.
    assert queue == [refs[i].reference for i in (4, 3, 2, 0)]


def test_reference_codes_are_readable_and_parse_back():
    codes = {reference_codes.new_reference() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == 12
        assert not set(code) & set("01ILOU")
        shown = reference_codes.display(code)
        assert shown.count("-") == 2
        assert reference_codes.parse(shown.lower()) == code
    assert reference_codes.parse("ABCD-EFGH-IJKL") is None  # I and L are never used
    assert reference_codes.parse("short") is None


@pytest.mark.parametrize(
    ("npi", "valid"),
    [
        ("1234567893", True),
        ("1245319599", True),
        ("1234567890", False),
        ("123456789", False),
        ("12345678931", False),
        ("12345678a3", False),
        ("１２３４５６７８９３", False),
    ],
)
def test_the_npi_check_digit(npi, valid):
    assert npi_is_valid(npi) is valid
