"""The working day's pages: metrics against hand-computed figures, My work, take-next,
the request page's call card and one form, the filters kept, statements per page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from app.common.actor import Actor
from app.models import AppointmentRequest, HeldNote
from app.requests import access_metrics, request_work
from app.vocabulary import CloseReason, RequestStatus, StaffRole
from tests.intake.test_queue import counting_queries
from tests.support.html import parse
from tests.support.staff import (
    a_referral,
    csrf_from,
    make_request,
    make_staff,
    pass_second_factor,
    signed_in_client,
)

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


def seed_metrics(app, db):
    """Six requests received Monday 16 to Wednesday 18 November 2026 (and one before)."""
    staff = make_staff(app, db, email="metrics@example.org", name="Mia Metrics")
    actor = Actor(staff_id=staff.id, role=staff.role)
    made = {}
    for name, received, fields in [
        ("A", ny(2026, 11, 16, 10), {"referral": a_referral()}),
        ("B", ny(2026, 11, 16, 16), {"language": "spanish"}),
        ("C", ny(2026, 11, 17, 9), {}),
        ("D", ny(2026, 11, 17, 11), {"referral": a_referral()}),
        ("E", ny(2026, 11, 18, 8, 30), {"language": "other", "language_other": "Tagalog"}),
        ("F", ny(2026, 11, 18, 16), {}),
        ("before", ny(2026, 11, 15, 12), {}),
    ]:
        made[name] = make_request(db, submitted_at=received, **fields).reference
    for name, contacted in [
        ("A", ny(2026, 11, 16, 14)),
        ("B", ny(2026, 11, 18, 10)),
        ("C", ny(2026, 11, 20, 9)),
    ]:
        request_work.claim(db, reference=made[name], actor=actor, now=contacted)
        request_work.change_status(
            db,
            reference=made[name],
            actor=actor,
            to_status=RequestStatus.CONTACTED,
            close_reason=None,
            note=None,
            now=contacted,
        )
    db.commit()
    return made


NOW = ny(2026, 11, 20, 12)


def test_metrics_match_figures_worked_out_by_hand(app, db):
    seed_metrics(app, db)
    m = access_metrics.access_metrics(db, start=date(2026, 11, 16), end=date(2026, 11, 18), now=NOW)
    assert m.per_day == [(date(2026, 11, d), 2) for d in (16, 17, 18)]

    def figures(g):
        return (
            g.received,
            g.contacted,
            g.median_hours,
            g.p90_hours,
            g.share_in_time,
            g.open,
            g.overdue,
        )

    # Contacts: A 4 business hours, B 12 (1 + 9 + 2), C 27 (8 + 9 + 9 + 1, late).
    # Known outcomes: A, B, C contacted, D and E overdue (F still inside its promise).
    assert figures(m.overall) == (6, 3, 12.0, 27.0, 40.0, 3, 2)
    referred, self_referred = m.by_referral
    assert figures(referred) == (2, 1, 4.0, 4.0, 50.0, 1, 1)
    assert figures(self_referred) == (4, 2, 19.5, 27.0, 33.3, 2, 1)
    english, spanish, other = m.by_language
    assert figures(english) == (4, 2, 15.5, 27.0, 33.3, 2, 1)
    assert figures(spanish) == (1, 1, 12.0, 12.0, 100.0, 0, 0)
    assert figures(other) == (1, 0, None, None, 0.0, 1, 1)


def test_metrics_page_chart_table_and_csv_for_admins(app, db):
    seed_metrics(app, db)
    client, _ = signed_in_client(app, db, email="ada@example.org", role=StaffRole.ADMIN)
    page = client.get("/staff/metrics?start=2026-11-16&end=2026-11-18")
    assert page.status_code == 200
    soup = parse(page)
    chart = soup.select_one("svg.bar-chart")
    assert chart["role"] == "img" and len(chart.select("rect")) == 3
    assert [c.get_text() for c in soup.select(".chart-table tbody td")][:2] == [
        "Mon 16 Nov 2026",
        "2",
    ]
    assert "Physician referral" in soup.select_one(".metrics-table").get_text()
    with counting_queries(app) as statements:
        assert client.get("/staff/metrics?start=2026-11-01&end=2026-11-30").status_code == 200
    metrics_statements = len(statements)
    with counting_queries(app) as statements:
        assert client.get("/staff/metrics").status_code == 200
    assert len(statements) == metrics_statements

    # The page's own download button: a posted form carrying the period shown.
    form = parse(client.get("/staff/metrics?start=2026-11-16&end=2026-11-18")).select_one(
        "form[action='/staff/metrics.csv']"
    )
    fields = {i["name"]: i["value"] for i in form.select("input[type=hidden]")}
    assert (fields["start"], fields["end"]) == ("2026-11-16", "2026-11-18")
    response = client.post("/staff/metrics.csv", data=fields)
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "group" and rows[1][:3] == ["All requests", "6", "3"]
    assert ["2026-11-17", "2"] in rows

    bad = client.get("/staff/metrics?start=2026-11-18&end=2026-11-01")
    assert bad.status_code == 200
    assert "Choose an end date on or after the start date" in parse(bad).get_text()


def test_intake_staff_cannot_see_metrics(app, db):
    client, _ = signed_in_client(app, db)
    assert client.get("/staff/metrics").status_code == 403


def test_take_next_opens_the_request_and_my_work_lists_it(app, db):
    client, me = signed_in_client(app, db)
    oldest = make_request(db, submitted_at=datetime(2026, 11, 2, 9, tzinfo=UTC))
    make_request(db, submitted_at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    with counting_queries(app) as statements:
        taken = client.post(
            "/staff/next", data={"csrf_token": token, "referral": "any", "interpreter": "any"}
        )
    assert taken.status_code == 303
    assert taken.headers["Location"].endswith(f"/staff/requests/{oldest.reference}")
    take_statements = len(statements)
    assert take_statements <= 12
    page = parse(client.get(taken.headers["Location"]))
    assert "You have claimed this request" in page.get_text()
    card = page.select_one(".call-card")
    assert "Call Maria Santos" in card.get_text()
    assert card.select_one('a[href="tel:+18135550123"]').get_text() == "(813) 555-0123"
    assert "Morning (8 a.m. to noon)" in card.get_text()

    with counting_queries(app) as statements:
        work = client.get("/staff/my-work")
    assert work.status_code == 200
    few = len(statements)
    assert [li["data-reference"] for li in parse(work).select(".work-item")] == [oldest.reference]
    # Many more held requests: the same statements.
    for _ in range(5):
        row = make_request(db)
        db.execute(
            update(AppointmentRequest)
            .where(AppointmentRequest.id == row.id)
            .values(claimed_by_id=me.id, status=RequestStatus.CONTACTED)
        )
    db.commit()
    with counting_queries(app) as statements:
        assert client.get("/staff/my-work").status_code == 200
    assert len(statements) == few

    bad = client.post("/staff/next", data={"csrf_token": token, "referral": "sideways"})
    assert bad.status_code == 303
    assert "could not be read" in parse(client.get("/staff/queue")).get_text()


def test_the_one_form_notes_moves_with_a_callback_and_keeps_the_filters(app, db):
    client, me = signed_in_client(app, db)
    row = make_request(db)
    url = f"/staff/requests/{row.reference}?status=open&interpreter=needed"
    page = client.get(url)
    soup = parse(page)
    assert soup.select_one("a.back-link")["href"] == "/staff/queue?status=open&interpreter=needed"
    token = csrf_from(page.get_data(as_text=True))
    claimed = client.post(
        f"/staff/requests/{row.reference}/claim?status=open&interpreter=needed",
        data={"csrf_token": token},
    )
    assert claimed.headers["Location"].endswith("?status=open&interpreter=needed")

    # A note alone.
    saved = client.post(
        f"/staff/requests/{row.reference}/status",
        data={"csrf_token": token, "status_note": "No answer; voicemail left."},
    )
    assert saved.status_code == 303
    # Nothing at all: told what to do, on the field.
    empty = client.post(f"/staff/requests/{row.reference}/status", data={"csrf_token": token})
    assert empty.status_code == 400
    assert (
        "Write a note, or choose a new status"
        in parse(empty).select_one("#status_note-error").get_text()
    )
    # A status nobody offered, and a date that cannot be read: messages that say what to do.
    odd = client.post(
        f"/staff/requests/{row.reference}/status",
        data={"csrf_token": token, "to_status": "in_limbo", "callback_date": "Thursday"},
    )
    text = parse(odd).get_text()
    assert "Not a valid choice" not in text
    assert "Choose one of the options shown" in text
    assert "Enter the date as shown, for example 2026-12-03" in text

    tomorrow = (datetime.now(NY) + timedelta(days=1)).date()
    moved = client.post(
        f"/staff/requests/{row.reference}/status",
        data={
            "csrf_token": token,
            "to_status": "contacted",
            "callback_date": tomorrow.isoformat(),
            "callback_time": "14:30",
            "status_note": "Call back tomorrow after 2",
        },
    )
    assert moved.status_code == 303
    db.rollback()
    stored = db.scalars(select(AppointmentRequest).where(AppointmentRequest.id == row.id)).one()
    callback = datetime.combine(tomorrow, datetime.min.time().replace(hour=14, minute=30), NY)
    # Stored in UTC whatever the database (SQLite hands it back without a zone).
    assert stored.callback_at == callback.astimezone(UTC)
    page = parse(client.get(f"/staff/requests/{row.reference}"))
    history = page.select_one(".history").get_text()
    assert "No answer; voicemail left." in history
    assert "from in progress to contacted, call back" in history
    assert "2:30 PM E" in history  # local time, with its zone (EST or EDT)

    work = parse(client.get("/staff/my-work"))
    assert "Call back" in work.select_one(".work-item").get_text()


def test_a_note_saved_after_the_idle_limit_is_kept_and_offered_back(app, db):
    client, me = signed_in_client(app, db)
    row = make_request(db)
    page = client.get(f"/staff/requests/{row.reference}")
    assert "you are signed out after 15 minutes without activity: at" in parse(page).get_text()
    token = csrf_from(page.get_data(as_text=True))
    with client.session_transaction() as session:
        session["staff_seen"] -= 16 * 60
    note = "Spoke to her daughter; call back Monday"
    late = client.post(
        f"/staff/requests/{row.reference}/status",
        data={"csrf_token": token, "status_note": note},
    )
    assert late.status_code == 302
    location = late.headers["Location"]
    assert location.endswith(f"/staff/login?next=/staff/requests/{row.reference}")
    assert "Spoke" not in location and "daughter" not in location
    assert "Your note was kept" in parse(client.get(location)).get_text()
    # Nothing was saved to the request itself.
    assert (
        db.scalars(select(AppointmentRequest.status).where(AppointmentRequest.id == row.id)).one()
        == RequestStatus.NEW
    )

    login = client.get(location)
    password = client.post(
        location,
        data={
            "email": me.email,
            "password": "correct horse battery",
            "csrf_token": csrf_from(login.get_data(as_text=True)),
        },
    )
    # Then the code from the authenticator app; the return address survives both steps.
    signed = pass_second_factor(client, password, me.email)
    assert signed.headers["Location"] == f"/staff/requests/{row.reference}"
    back = parse(client.get(signed.headers["Location"]))
    assert back.select_one("#status_note").get_text() == note
    assert "Your note from before you were signed out is back" in back.get_text()
    # Offered once: the holding place is emptied.
    again = parse(client.get(signed.headers["Location"]))
    assert again.select_one("#status_note").get_text() == ""


def test_a_late_post_without_a_valid_token_keeps_nothing(app, db):
    client, _ = signed_in_client(app, db)
    row = make_request(db)
    with client.session_transaction() as session:
        session["staff_seen"] -= 16 * 60
    client.post(
        f"/staff/requests/{row.reference}/status",
        data={"csrf_token": "forged", "status_note": "Not mine"},
    )
    db.rollback()
    assert db.scalars(select(HeldNote)).all() == []


def test_stay_signed_in_counts_as_activity(app, db):
    client, _ = signed_in_client(app, db)
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    with client.session_transaction() as session:
        session["staff_seen"] -= 14 * 60
    assert client.post("/staff/session", headers={"X-CSRFToken": token}).status_code == 204
    with client.session_transaction() as session:
        session["staff_seen"] -= 14 * 60
    assert client.get("/staff/queue").status_code == 200, "still signed in"


def test_a_held_note_is_kept_for_a_working_day_at_most(app, db):
    from app.requests import held_notes

    staff = make_staff(app, db)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    held_notes.hold(db, staff_id=staff.id, reference="AAAABBBBCCCC", note="old", now=now)
    db.commit()
    later = now + timedelta(hours=13)
    assert held_notes.peek(db, staff_id=staff.id, reference="AAAABBBBCCCC", now=later) is None
    held_notes.hold(db, staff_id=staff.id, reference="DDDDEEEEFFFF", note="new", now=later)
    db.commit()
    assert [n.note for n in db.scalars(select(HeldNote))] == ["new"]


def test_the_overdue_filter_costs_what_the_queue_costs(app, db):
    client, _ = signed_in_client(app, db)
    for days in (1, 20, 40):
        make_request(db, submitted_at=datetime.now(UTC) - timedelta(days=days))

    def statements(url: str) -> tuple[int, list[str]]:
        with counting_queries(app) as sent:
            response = client.get(url)
            assert response.status_code == 200
        return len(sent), [tr["data-reference"] for tr in parse(response).select("tbody tr")]

    queue_count, everything = statements("/staff/queue")
    overdue_count, overdue = statements("/staff/queue?status=overdue")
    assert overdue_count == queue_count
    assert len(everything) == 3 and overdue == everything[:2]


def test_an_admin_reopens_a_closed_request_from_its_page(app, db):
    client, ada = signed_in_client(app, db, email="ada@example.org", role=StaffRole.ADMIN)
    row = make_request(db)
    request_work.change_status(
        db,
        reference=row.reference,
        actor=Actor(staff_id=ada.id, role=ada.role),
        to_status=RequestStatus.CLOSED,
        close_reason=CloseReason.DUPLICATE,
        note=None,
        now=datetime.now(UTC),
    )
    db.commit()
    page = client.get(f"/staff/requests/{row.reference}")
    assert "Reopen the request" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    empty = client.post(f"/staff/requests/{row.reference}/reopen", data={"csrf_token": token})
    assert empty.status_code == 400
    assert (
        "Write why the request is being reopened"
        in parse(empty).select_one("#reason-error").get_text()
    )
    done = client.post(
        f"/staff/requests/{row.reference}/reopen",
        data={"csrf_token": token, "reason": "Not a duplicate: different date of birth"},
    )
    assert done.status_code == 303
    history = (
        parse(client.get(f"/staff/requests/{row.reference}")).select_one(".history").get_text()
    )
    assert "Reopened the request from closed to new" in history
    assert "Not a duplicate: different date of birth" in history


def test_two_coordinators_taking_next_through_the_app_at_once_get_different_requests(app, db):
    """Through the app's own transactions: on SQLite the POST's BEGIN IMMEDIATE makes the
    two take turns; on PostgreSQL SKIP LOCKED lets them pass each other."""
    import threading

    first = make_request(db, submitted_at=datetime(2026, 11, 2, 9, tzinfo=UTC))
    second = make_request(db, submitted_at=datetime(2026, 11, 2, 10, tzinfo=UTC))
    clients = [
        signed_in_client(app, db, email=f"take{i}@example.org", name=f"Taker {i}")[0]
        for i in range(2)
    ]
    tokens = [csrf_from(c.get("/staff/queue").get_data(as_text=True)) for c in clients]
    barrier = threading.Barrier(2)
    answers: dict[int, str] = {}

    def press(i: int) -> None:
        barrier.wait()
        response = clients[i].post(
            "/staff/next",
            data={"csrf_token": tokens[i], "referral": "any", "interpreter": "any"},
        )
        answers[i] = response.headers["Location"].rsplit("/", 1)[-1]

    threads = [threading.Thread(target=press, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(answers.values()) == sorted([first.reference, second.reference])
