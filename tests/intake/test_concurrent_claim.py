"""Two staff claim the same request at the same moment: exactly one gets it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.common.actor import Actor
from app.common.errors import Refused
from app.models import AppointmentRequest, RequestEvent
from app.requests import request_work
from tests.support.staff import csrf_from, make_request, make_staff, signed_in_client


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("row locks between two connections: PostgreSQL only")


def test_second_claim_waits_for_the_first_and_is_told_who_won(app, db, postgres_only):
    row = make_request(db)
    first = make_staff(app, db, email="first@example.org", name="First Claimer")
    second = make_staff(app, db, email="second@example.org", name="Second Claimer")
    db.rollback()
    engine = app.extensions["db_engine"]
    outcome: dict = {}

    with Session(engine) as one:
        request_work.claim(
            one,
            reference=row.reference,
            actor=Actor(staff_id=first.id, role=first.role),
            now=datetime.now(UTC),
        )
        # The first claim holds the row lock, uncommitted; the second must wait for it.

        def second_claim():
            with Session(engine) as two:
                try:
                    request_work.claim(
                        two,
                        reference=row.reference,
                        actor=Actor(staff_id=second.id, role=second.role),
                        now=datetime.now(UTC),
                    )
                    two.commit()
                    outcome["second"] = "claimed"
                except Refused as refused:
                    two.rollback()
                    outcome["second"] = str(refused)

        thread = threading.Thread(target=second_claim)
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive(), "the second claim waits on the first one's row lock"
        one.commit()
        thread.join(timeout=10)

    assert outcome["second"] == "First Claimer has already claimed this request."
    db.rollback()
    assert db.get(AppointmentRequest, row.id).claimed_by_id == first.id
    assert [e.staff_id for e in db.scalars(select(RequestEvent))] == [first.id]


def test_two_browsers_claiming_at_once_one_wins(app, db, postgres_only):
    row = make_request(db)
    clients = [
        signed_in_client(app, db, email=f"s{i}@example.org", name=f"Staff {i}")[0] for i in range(2)
    ]
    tokens = [csrf_from(c.get(f"/staff/requests/{row.reference}").get_data(True)) for c in clients]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def claim(client, token):
        barrier.wait()
        response = client.post(f"/staff/requests/{row.reference}/claim", data={"csrf_token": token})
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=claim, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert statuses == [303, 303]
    db.rollback()
    events = list(db.scalars(select(RequestEvent)))
    assert len(events) == 1
    assert db.get(AppointmentRequest, row.id).claimed_by_id == events[0].staff_id
    texts = [c.get(f"/staff/requests/{row.reference}").get_data(as_text=True) for c in clients]
    assert sum("has already claimed this request" in t for t in texts) == 1
