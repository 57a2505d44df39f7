"""The admins' e-mail outbox page in a real browser: a failed message with its reason,
"Send again", and axe-core on the page before and after."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from app.models import AppointmentRequest, OutboxMessage, OutboxStatus
from tests.browser.staff_support import StaffAccount, add_requests, create_staff, sign_in
from tests.browser.support import assert_accessible

pytestmark = pytest.mark.browser

ADMIN = StaffAccount(email="olive.outbox@example.org", name="Olive Outbox")
REASON = "The mail server refused the message: 550 5.1.1 No such user here"


@pytest.fixture(scope="module")
def failed_reference(live_server) -> str:
    create_staff(live_server, ADMIN, role="admin")
    [reference] = add_requests(live_server, {"first_name": "Fenella", "last_name": "Failed"})
    engine = create_engine(live_server.database_url)
    try:
        with Session(engine) as db:
            request_id = db.scalar(
                select(AppointmentRequest.id).where(AppointmentRequest.reference == reference)
            )
            db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.request_id == request_id)
                .values(status=OutboxStatus.FAILED, attempts=1, last_error=REASON)
            )
            db.commit()
    finally:
        engine.dispose()
    return reference


def test_an_admin_sees_a_failed_message_and_sends_it_again(new_page, failed_reference):
    page = new_page()
    sign_in(page, ADMIN.email, ADMIN.password)
    page.goto("/staff/outbox")
    row = page.locator("tr", has_text=REASON)
    assert row.count() == 1
    assert_accessible(page, "outbox with a failed message")
    with page.expect_navigation():
        row.get_by_role("button", name="Send again").click()
    assert "queued to be sent again" in page.locator(".notice").inner_text()
    assert page.locator("tr", has_text=REASON).count() == 0
    assert_accessible(page, "outbox after sending again")
