"""The queue: order, filters, search, keyset pages, overdue marking, query count."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, update

from app.models import AppointmentRequest, RequestStatus, StaffRole
from app.requests import intake_queue
from app.requests.intake_queue import ClaimFilter, QueueFilters, ReferralFilter, StatusFilter
from tests.support.html import parse
from tests.support.staff import (
    a_referral,
    csrf_from,
    make_request,
    make_requests,
    make_staff,
    signed_in_client,
)


def references_on(response) -> list[str]:
    return [tr["data-reference"] for tr in parse(response).select("tr[data-reference]")]


def next_link(response) -> str | None:
    link = parse(response).select_one('a[rel="next"]')
    return link["href"] if link else None


def test_open_requests_oldest_first_in_pages_of_fifty(app, db):
    rows = make_requests(db, 120)
    # Closed and scheduled requests are not in the default view.
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id.in_([rows[0].id, rows[1].id]))
        .values(status=RequestStatus.CLOSED)
    )
    db.commit()
    expected = [r.reference for r in rows[2:]]
    client, _ = signed_in_client(app, db)

    seen: list[str] = []
    url = "/staff/queue"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = references_on(response)
        assert len(page) <= 50
        seen += page
        url = next_link(response)
        pages += 1
    assert pages == 3
    assert seen == expected


def test_keyset_pages_break_ties_on_the_id(app, db):
    same_time = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rows = make_requests(db, 7, start=same_time, step=timedelta(0))
    staff = make_staff(app, db)
    seen = []
    after = None
    while True:
        page = intake_queue.queue_page(
            db,
            filters=QueueFilters(),
            viewer_id=staff.id,
            now=datetime.now(UTC),
            after=after,
            limit=3,
        )
        seen += [r.id for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(r.id for r in rows)


def test_a_few_hundred_rows_keep_their_order_across_pages(app, db):
    rows = make_requests(db, 260, step=timedelta(minutes=7))
    staff = make_staff(app, db)
    seen, after = [], None
    while True:
        page = intake_queue.queue_page(
            db,
            filters=QueueFilters(),
            viewer_id=staff.id,
            now=datetime.now(UTC),
            after=after,
        )
        seen += [r.reference for r in page.rows]
        after = page.next_after
        if after is None:
            break
    assert seen == [r.reference for r in rows]


def test_filters(app, db):
    client, me = signed_in_client(app, db)
    other = make_staff(app, db, email="robin@example.org", name="Robin Other")
    start = datetime.now(UTC) - timedelta(days=3)
    referred = make_request(db, referral=a_referral(), submitted_at=start)
    self_referred = make_request(db, submitted_at=start + timedelta(hours=1))
    mine = make_request(db, submitted_at=start + timedelta(hours=2))
    theirs = make_request(db, submitted_at=start + timedelta(hours=3))
    contacted = make_request(db, submitted_at=start + timedelta(hours=4))
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == mine.id)
        .values(claimed_by_id=me.id, status=RequestStatus.IN_PROGRESS)
    )
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == theirs.id)
        .values(claimed_by_id=other.id, status=RequestStatus.IN_PROGRESS)
    )
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == contacted.id)
        .values(status=RequestStatus.CONTACTED)
    )
    db.commit()

    def refs(query: str) -> list[str]:
        response = client.get("/staff/queue" + query)
        assert response.status_code == 200
        return references_on(response)

    # The default view leaves out nothing that needs action: contacted too.
    assert refs("") == [r.reference for r in (referred, self_referred, mine, theirs, contacted)]
    assert refs("?referral=referred") == [referred.reference]
    assert refs("?referral=self") == [r.reference for r in (self_referred, mine, theirs, contacted)]
    assert refs("?claim=mine") == [mine.reference]
    assert refs("?claim=unclaimed") == [
        referred.reference,
        self_referred.reference,
        contacted.reference,
    ]
    assert refs("?status=in_progress") == [mine.reference, theirs.reference]
    assert refs("?status=contacted") == [contacted.reference]
    assert len(refs("?status=all")) == 5
    page = client.get("/staff/queue")
    assert "Robin Other" in page.get_data(as_text=True)


def test_bad_filter_values_show_an_error_and_the_default_queue(app, db):
    make_request(db)
    client, _ = signed_in_client(app, db)
    response = client.get("/staff/queue?status=bogus&after=notanumber")
    assert response.status_code == 200
    assert len(references_on(response)) == 1
    assert parse(response).select_one("[data-error-summary]") is not None


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("santos", ["santos"]),
        ("MARIA", ["santos"]),
        ("maria san", ["santos"]),
        ("ngu", ["nguyen"]),
        ("jo", ["nguyen", "johnson"]),
        ("100%", []),
        ("o'", []),
    ],
)
def test_search_by_name(app, db, search, found):
    people = {
        "santos": make_request(db, first_name="Maria", last_name="Santos"),
        "nguyen": make_request(db, first_name="Joanne", last_name="Nguyen"),
        "johnson": make_request(db, first_name="Ann", last_name="Johnson"),
    }
    client, _ = signed_in_client(app, db)
    response = search_for(client, search)
    assert sorted(references_on(response)) == sorted(people[k].reference for k in found)


def test_search_by_reference_as_read_over_the_phone(app, db):
    wanted = make_request(db)
    make_request(db)
    client, _ = signed_in_client(app, db)
    spoken = f"{wanted.reference[:4]}-{wanted.reference[4:8]} {wanted.reference[8:]}".lower()
    response = search_for(client, spoken)
    assert references_on(response) == [wanted.reference]


def search_for(client, text: str, **filters):
    """Type a search and press Search: the answer is a redirect to the results page."""
    html = client.get("/staff/queue").get_data(as_text=True)
    posted = client.post("/staff/queue", data={"q": text, "csrf_token": csrf_from(html), **filters})
    assert posted.status_code == 303
    return client.get(posted.headers["Location"])


def test_a_name_searched_for_never_goes_into_a_url(app, db, caplog):
    make_requests(db, 55, first_name="Imelda", last_name="Quintero")
    make_request(db, first_name="Other", last_name="Person")
    client, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    html = client.get("/staff/queue").get_data(as_text=True)
    posted = client.post(
        "/staff/queue", data={"q": "quintero", "status": "all", "csrf_token": csrf_from(html)}
    )
    # Answered with a redirect to a GET page: Back and reload never send the form again.
    assert posted.status_code == 303
    results_url = posted.headers["Location"]
    assert "quintero" not in results_url.lower() and "search=" in results_url
    assert "status=all" in results_url
    first = client.get(results_url)
    assert len(references_on(first)) == 50
    soup = parse(first)
    assert soup.select_one("#q")["value"] == "quintero"
    assert all("quintero" not in a["href"].lower() for a in soup.select("a[href]"))
    # The next page is a plain link, the held search's token with it.
    next_link = soup.select_one('a[rel="next"]')
    assert "search=" in next_link["href"] and "quintero" not in next_link["href"].lower()
    second = client.get(next_link["href"])
    assert len(references_on(second)) == 5
    assert not set(references_on(first)) & set(references_on(second))
    # A request opened from the results goes back to them.
    opened = client.get(soup.select_one("tr[data-reference] a")["href"])
    back = parse(opened).select_one("a.back-link")["href"]
    assert len(references_on(client.get(back))) == 50
    # No log line carries the name.
    assert "quintero" not in caplog.text.lower()
    # A search typed into the address bar is ignored rather than honoured.
    assert len(references_on(client.get("/staff/queue?q=quintero"))) == 50
    assert len(references_on(client.get("/staff/queue?q=person"))) == 50


def test_a_held_search_is_only_for_the_person_who_made_it(app, db):
    make_request(db, first_name="Imelda", last_name="Quintero")
    make_requests(db, 3)
    client, _ = signed_in_client(app, db)
    html = client.get("/staff/queue").get_data(as_text=True)
    results_url = client.post(
        "/staff/queue", data={"q": "quintero", "csrf_token": csrf_from(html)}
    ).headers["Location"]
    assert len(references_on(client.get(results_url))) == 1
    other, _ = signed_in_client(app, db, email="robin@example.org", name="Robin Other")
    page = other.get(results_url)
    assert page.status_code == 200
    assert len(references_on(page)) == 4, "someone else's token shows the whole queue"
    assert "no longer kept" in page.get_data(as_text=True)


def test_a_search_too_long_is_answered_on_the_field(app, db):
    client, _ = signed_in_client(app, db)
    html = client.get("/staff/queue").get_data(as_text=True)
    response = client.post("/staff/queue", data={"q": "x" * 101, "csrf_token": csrf_from(html)})
    assert response.status_code == 400
    soup = parse(response)
    assert "Search for at most 100 characters" in soup.select_one(".error-summary").get_text()
    assert soup.select_one("#q")["value"] == "x" * 101


def test_overdue_requests_stand_out(app, db):
    now = datetime.now(UTC)
    old = make_request(db, submitted_at=now - timedelta(days=10))
    fresh = make_request(db, submitted_at=now - timedelta(minutes=5))
    client, _ = signed_in_client(app, db)
    soup = parse(client.get("/staff/queue"))
    old_row = soup.select_one(f'tr[data-reference="{old.reference}"]')
    fresh_row = soup.select_one(f'tr[data-reference="{fresh.reference}"]')
    assert "Overdue" in old_row.get_text()
    assert "Overdue" not in fresh_row.get_text()


def test_service_filters_compose(app, db):
    staff = make_staff(app, db, role=StaffRole.ADMIN)
    make_request(db, referral=a_referral(), first_name="Lee", last_name="Park")
    make_request(db, first_name="Lee", last_name="Parker")
    page = intake_queue.queue_page(
        db,
        filters=QueueFilters(
            status=StatusFilter.NEW,
            referral=ReferralFilter.SELF,
            claim=ClaimFilter.UNCLAIMED,
            search="lee park",
        ),
        viewer_id=staff.id,
        now=datetime.now(UTC),
    )
    assert [r.last_name for r in page.rows] == ["Parker"]


@contextmanager
def counting_queries(app):
    engine = app.extensions["db_engine"]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.split(None, 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_queue_and_request_pages_run_a_fixed_number_of_queries(app, db, backend):
    # Each page writes one audit entry: read the chain's last hash, insert, and on
    # PostgreSQL take the chain's advisory lock first.
    audit_entry = 3 if backend == "postgresql" else 2
    client, me = signed_in_client(app, db)
    other = make_staff(app, db, email="robin@example.org", name="Robin Other")
    few = make_requests(db, 3, referral=a_referral())
    rows = few + make_requests(db, 60, referral=a_referral())
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id.in_([r.id for r in rows[::2]]))
        .values(claimed_by_id=other.id, status=RequestStatus.IN_PROGRESS)
    )
    db.commit()

    def queries(url: str) -> int:
        with counting_queries(app) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    small = queries("/staff/queue?status=all&referral=referred&claim=unclaimed")
    full = queries("/staff/queue")
    assert small == full <= 3 + audit_entry
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    results = client.post("/staff/queue", data={"q": "maria", "status": "all", "csrf_token": token})
    with counting_queries(app) as statements:
        assert client.get(results.headers["Location"]).status_code == 200
    # One more: the held search's words.
    assert len(statements) == full + 1

    # A request with a long history and many duplicates costs the same as a bare one.
    bare = make_request(db, email="solo@example.org", phone="+17275550100", last_name="Solo")
    bare_count = queries(f"/staff/requests/{bare.reference}")
    busy = rows[1]
    for i in range(5):
        response = client.post(
            f"/staff/requests/{busy.reference}/notes",
            data={"note": f"note {i}", "csrf_token": _csrf(client, busy.reference)},
        )
        assert response.status_code == 303
    busy_count = queries(f"/staff/requests/{busy.reference}")
    # Six, and the person's documents and signed releases (issue 29): one query each.
    assert bare_count == busy_count <= 8 + audit_entry


def _csrf(client, reference):
    return csrf_from(client.get(f"/staff/requests/{reference}").get_data(as_text=True))
