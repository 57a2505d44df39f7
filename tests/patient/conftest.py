"""The private page's tests: a request made through the service, its link from the
confirmation e-mail's payload (the one place the token exists), and a browser that opens
it."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import OutboxMessage
from tests.support.staff import csrf_from

LINK = re.compile(r"/your-request/open\?key=([a-z2-7]{32})")


@pytest.fixture
def app_overrides(tmp_path) -> dict:
    # No clamd in these tests unless they ask for it: a socket nothing listens on.
    return {"CLAMD_ADDRESS": str(tmp_path / "no-clamd.sock"), "STAFF_SECOND_FACTOR": False}


def link_token(db: Session, request_id: int) -> str:
    """The newest link token e-mailed for the request (confirmation or a fresh link)."""
    db.rollback()
    payload = db.scalars(
        select(OutboxMessage.payload)
        .where(OutboxMessage.request_id == request_id)
        .order_by(OutboxMessage.id.desc())
    ).first()
    # No read transaction left open: on SQLite it would block the next write.
    db.rollback()
    assert payload and "link" in payload, "the e-mail carries a link"
    return payload["link"]


def open_page(
    client: FlaskClient,
    token: str,
    *,
    born: tuple[str, str, str] = ("3", "27", "1965"),
    prefix: str = "",
):
    """Open the link and give the date of birth, as a new browser would."""
    opened = client.get(f"{prefix}/your-request/open?key={token}")
    assert opened.status_code == 303
    page = client.get(f"{prefix}/your-request/check")
    return client.post(
        f"{prefix}/your-request/check",
        data={
            "dob_month": born[0],
            "dob_day": born[1],
            "dob_year": born[2],
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )


def post_from(client: FlaskClient, page_url: str, url: str, data: dict, **kwargs):
    page = client.get(page_url)
    return client.post(
        url, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))}, **kwargs
    )
