"""The request page object: what each person may do, decided once in the service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.common.actor import Actor
from app.common.errors import NotFound, Refused
from app.models import AppointmentRequest, AuditEvent, StaffRole
from app.requests import request_work
from app.vocabulary import RequestStatus
from tests.conftest import count_rows
from tests.support.html import parse
from tests.support.staff import csrf_from, make_request, make_staff, signed_in_client


def page_for(db, row, actor):
    return request_work.request_page(
        db, reference=row.reference, actor=actor, now=datetime.now(UTC)
    )


def test_who_may_claim_release_and_move(app, db):
    row = make_request(db)
    casey = make_staff(app, db)
    robin = make_staff(app, db, email="robin@example.org", name="Robin")
    ada = make_staff(app, db, email="ada@example.org", name="Ada", role=StaffRole.ADMIN)
    as_casey, as_robin, as_ada = (Actor(staff_id=s.id, role=s.role) for s in (casey, robin, ada))
    db.rollback()

    fresh = page_for(db, row, as_casey)
    assert (fresh.can_claim, fresh.can_release) == (True, False)
    assert fresh.moves == [RequestStatus.CLOSED]

    request_work.claim(db, reference=row.reference, actor=as_casey, now=datetime.now(UTC))
    db.commit()
    db.expire_all()
    mine, theirs, admin = (page_for(db, row, a) for a in (as_casey, as_robin, as_ada))
    assert (mine.can_claim, mine.can_release) == (False, True)
    assert (theirs.can_claim, theirs.can_release) == (False, False)
    assert (admin.can_claim, admin.can_release) == (False, True)
    assert mine.moves == [RequestStatus.CONTACTED, RequestStatus.SCHEDULED, RequestStatus.CLOSED]
    assert theirs.moves == [], "only the claimer moves a claimed request"
    assert [e.kind for e in mine.history] == ["claim"]

    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == row.id)
        .values(status=RequestStatus.CLOSED, claimed_by_id=None)
    )
    db.commit()
    db.expire_all()
    finished = page_for(db, row, as_casey)
    assert (finished.can_claim, finished.can_release, finished.moves) == (False, False, [])


def test_actions_on_an_unknown_reference_are_not_found_and_refusals_say_why(app, db):
    row = make_request(db)
    casey = make_staff(app, db)
    actor = Actor(staff_id=casey.id, role=casey.role)
    db.rollback()
    with pytest.raises(NotFound):
        request_work.claim(db, reference="ZZZZZZZZZZZZ", actor=actor, now=datetime.now(UTC))
    with pytest.raises(NotFound):
        request_work.add_note(db, reference="ZZZZZZZZZZZZ", actor=actor, note="x")
    with pytest.raises(Refused, match="Nobody has claimed this request"):
        request_work.release(db, reference=row.reference, actor=actor)


def test_the_page_offers_only_what_the_person_may_do(app, db):
    row = make_request(db)
    client, me = signed_in_client(app, db)
    soup = parse(client.get(f"/staff/requests/{row.reference}"))
    assert soup.find("button", string="Claim this request")
    assert not soup.find("button", string="Release to the queue")
    db.rollback()  # reading row.reference above began a read; on SQLite it would block
    other = make_staff(app, db, email="robin@example.org", name="Robin")
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == row.id)
        .values(status=RequestStatus.IN_PROGRESS, claimed_by_id=other.id)
    )
    db.commit()
    soup = parse(client.get(f"/staff/requests/{row.reference}"))
    assert not soup.find("button", string="Claim this request")
    assert not soup.find("button", string="Release to the queue")


def test_a_post_that_fails_validation_writes_only_its_view_once(app, db):
    row = make_request(db)
    client, me = signed_in_client(app, db)
    html = client.get(f"/staff/requests/{row.reference}").get_data(as_text=True)
    db.rollback()
    before = count_rows(db, "audit_events")
    response = client.post(
        f"/staff/requests/{row.reference}/notes", data={"note": " ", "csrf_token": csrf_from(html)}
    )
    assert response.status_code == 400
    db.rollback()
    added = list(db.scalars(select(AuditEvent).where(AuditEvent.id > 0).order_by(AuditEvent.id)))
    assert len(added) == before + 1
    assert added[-1].action == "view_request" and added[-1].staff_id == me.id
    assert count_rows(db, "request_events") == 0


def _why(db, row) -> dict[str, tuple[str, ...]]:
    return {d.reference: d.reasons for d in request_work.duplicates(db, row=row)}


def test_possible_duplicates_match_what_identifies_a_person_and_say_why(app, db):
    # None of these gave an e-mail: two empty e-mails say nothing about who someone is.
    row = make_request(db, email=None, first_name="María", last_name="ÁLVAREZ")
    same_person = make_request(
        db, email=None, first_name="maría", last_name="Álvarez", phone="+18135550002"
    )
    same_phone = make_request(
        db, email=None, first_name="Ana", last_name="Ruiz", phone=row.phone, date_of_birth=None
    )
    namesake = make_request(  # the same name, born another day: someone else
        db, email=None, first_name="María", last_name="Álvarez", phone="+18135550003",
        date_of_birth=row.date_of_birth.replace(year=1970),
    )  # fmt: skip
    make_request(db, email=None, first_name="Luz", last_name="Vega", phone="+18135550004")
    assert _why(db, row) == {
        same_person.reference: ("same name and date of birth",),
        same_phone.reference: ("same phone",),
    }
    assert namesake.reference not in _why(db, row)


def test_the_same_e_mail_is_a_match_and_every_reason_is_given(app, db):
    row = make_request(db, email="maria@example.com")
    twin = make_request(db, email="maria@example.com")
    other = make_request(db, email="other@example.com", first_name="Ana", phone="+18135550009")
    assert _why(db, row) == {
        twin.reference: ("same name and date of birth", "same phone", "same email")
    }
    assert _why(db, other) == {}
