"""What the audit trail records beyond the request pages: queue views and searches,
refused access, account changes from the command line, emergency accounts; and that an
anonymous visit to a staff page leaves a patient's session alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.models import (
    AppointmentRequest,
    AuditEvent,
    EmergencyAccess,
    RequestStatus,
    StaffRole,
    StaffUser,
)
from tests.support.forms import open_form, submit, valid_answers
from tests.support.staff import (
    PASSWORD,
    csrf_from,
    enrol_second_factor,
    make_request,
    make_staff,
    sign_in,
    signed_in_client,
)


def entries(db, action: str | None = None) -> list[AuditEvent]:
    db.rollback()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.scalars(query))


def test_queue_views_are_recorded_with_their_filters(app, db):
    make_request(db)
    client, staff = signed_in_client(app, db)
    client.get("/staff/queue?status=all&referral=self")
    [view] = entries(db, "queue_view")
    assert view.staff_id == staff.id
    assert view.to_value == "1 rows"
    assert "status=all" in view.detail and "referral=self" in view.detail
    assert "search" not in view.detail


def test_searches_are_recorded_as_a_keyed_hash_never_the_text(app, db):
    make_request(db, last_name="Santos")
    client, staff = signed_in_client(app, db)
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    for typed in ("Santos", "  santos ", "Quintero"):
        client.post(
            "/staff/queue",
            data={"q": typed, "status": "all", "csrf_token": token},
            follow_redirects=True,
        )
    searches = entries(db, "queue_search")
    assert len(searches) == 3
    hashes = [e.detail.split("search=")[1] for e in searches]
    # The same name searched twice gives the same hash; another name another one.
    assert hashes[0] == hashes[1] != hashes[2]
    assert all(len(h) == 32 for h in hashes)
    dump = " ".join(str(v) for e in searches for v in (e.detail, e.to_value, e.actor_email))
    assert "santos" not in dump.lower() and "quintero" not in dump.lower()
    assert [e.to_value for e in searches] == ["1 rows", "1 rows", "0 rows"]


def test_admins_see_who_searched_for_a_name_and_who_saw_a_request(app, db):
    """The keyed hash answers "who searched for this name?" without storing names."""
    from app.audit import trail

    row = make_request(db)
    intake, casey = signed_in_client(app, db)
    token = csrf_from(intake.get("/staff/queue").get_data(as_text=True))
    intake.post(
        "/staff/queue",
        data={"q": "Santos", "status": "all", "csrf_token": token},
        follow_redirects=True,
    )
    intake.get(f"/staff/requests/{row.reference}")
    db.rollback()
    found = trail.audit_page(db, searched_for="SANTOS").rows
    assert [r.staff_name for r in found] == [casey.name]
    assert trail.audit_page(db, searched_for="Quintero").rows == []
    db.rollback()
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN, email="ada@example.org")
    display = f"{row.reference[:4]}-{row.reference[4:8]}-{row.reference[8:]}"
    html = admin.get("/staff/audit", query_string={"reference": display}).get_data(True)
    assert "Viewed request" in html and casey.name in html
    html = admin.get("/staff/audit", query_string={"staff": str(casey.id)}).get_data(True)
    assert "Searched the queue" in html


def test_a_refused_admin_page_is_recorded(app, db):
    client, staff = signed_in_client(app, db)
    assert client.get("/staff/audit").status_code == 403
    [refused] = entries(db, "access_denied")
    assert refused.staff_id == staff.id
    assert refused.detail == "GET /staff/audit (admins only)"


def test_a_staff_url_without_sign_in_is_recorded_without_its_query_string(app, db):
    client = app.test_client()
    response = client.get("/staff/queue?q=Santos&status=all")
    assert response.status_code == 302
    [refused] = entries(db, "sign_in_required")
    assert refused.staff_id is None
    assert refused.detail == "GET /staff/queue"
    assert refused.client_ip


def test_an_anonymous_staff_visit_leaves_the_patients_form_working(app, db):
    """A patient with the form open in one tab follows a staff link in another: the
    form must still send (its CSRF token lives in the same session)."""
    client = app.test_client()
    tokens = open_form(client)
    before = client.get_cookie("session")
    assert client.get("/staff/queue").status_code == 302
    assert client.post("/staff/requests/AAAABBBBCCCC/claim").status_code in (302, 303, 400)
    after = client.get_cookie("session")
    assert after is not None and before is not None and after.value == before.value
    assert submit(client, valid_answers(), tokens).status_code == 303


def cli(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=["staff", *args], input=input)


def test_account_changes_from_the_command_line_are_recorded(app, db):
    assert (
        cli(app, "create", "jo@example.org", "--name", "Jo", input=PASSWORD + "\n").exit_code == 0
    )
    assert cli(app, "set-password", "jo@example.org", input=PASSWORD + "!\n").exit_code == 0
    assert cli(app, "deactivate", "jo@example.org").exit_code == 0
    changes = [
        e
        for e in entries(db)
        if e.action in {"account_created", "password_set", "account_deactivated"}
    ]
    assert [e.action for e in changes] == ["account_created", "password_set", "account_deactivated"]
    for event in changes:
        assert event.detail.startswith("account jo@example.org via command line (user ")
        assert event.staff_id is None
        assert PASSWORD not in event.detail
    # A refused change (an unknown account) changes nothing and records nothing.
    assert cli(app, "deactivate", "nobody@example.org").exit_code == 1
    assert len([e for e in entries(db) if e.action == "account_deactivated"]) == 1


def break_glass(app, *extra: str):
    return cli(
        app,
        "break-glass",
        "er@example.org",
        "--name",
        "Emergency Rivera",
        "--reason",
        "Intake team locked out during outage",
        *extra,
        input=PASSWORD + "\n",
    )


def test_break_glass_account_is_time_boxed_and_every_action_flagged(app, db):
    row = make_request(db)
    result = break_glass(app, "--hours", "4")
    assert result.exit_code == 0, result.output
    assert "usable until" in result.output
    [made] = entries(db, "emergency_account_created")
    assert "reason: Intake team locked out during outage" in made.detail

    emergency = db.scalars(select(StaffUser).where(StaffUser.email == "er@example.org")).one()
    # Emergency accounts set up a second factor like any other.
    enrol_second_factor(db, emergency)
    db.commit()
    client = app.test_client()
    assert sign_in(client, "er@example.org").status_code == 303
    client.get("/staff/queue")
    client.get(f"/staff/requests/{row.reference}")
    emergency = db.scalars(select(StaffUser).where(StaffUser.email == "er@example.org")).one()
    theirs = [e for e in entries(db) if e.staff_id == emergency.id]
    assert {e.action for e in theirs} >= {"sign_in", "queue_view", "view_request"}
    assert all(e.emergency for e in theirs)
    assert not any(e.emergency for e in entries(db) if e.staff_id != emergency.id)

    # Admins are told, on the audit page.
    admin, _ = signed_in_client(app, db, role=StaffRole.ADMIN, email="ada@example.org")
    html = admin.get("/staff/audit").get_data(as_text=True)
    assert "Emergency access to review" in html
    assert "Emergency Rivera" in html and "Intake team locked out during outage" in html
    only = admin.get("/staff/audit?emergency=1").get_data(as_text=True)
    assert "Viewed request" in only and "ada@example.org" not in only.split("<table")[-1]

    # When the time is up, the open session ends and signing in again is refused.
    db.rollback()
    db.execute(
        update(EmergencyAccess)
        .where(EmergencyAccess.staff_id == emergency.id)
        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    )
    db.commit()
    assert client.get("/staff/queue").status_code == 302
    assert sign_in(client, "er@example.org").status_code == 200
    assert entries(db, "sign_in_failed")[-1].detail == "emergency access expired"


def test_break_glass_needs_a_reason_and_a_short_time(app, db):
    assert break_glass(app, "--hours", "500").exit_code == 1
    assert "1 to 72 hours" in break_glass(app, "--hours", "0").output
    no_reason = cli(
        app,
        "break-glass",
        "er@example.org",
        "--name",
        "E R",
        "--reason",
        "  ",
        "--hours",
        "2",
        input=PASSWORD + "\n",
    )
    assert no_reason.exit_code == 1
    db.rollback()
    assert db.scalars(select(StaffUser)).all() == []


def test_normal_accounts_are_not_flagged(app, db):
    make_staff(app, db)
    client = app.test_client()
    sign_in(client)
    assert entries(db, "sign_in")[0].emergency is False


def test_my_work_and_the_metrics_are_recorded(app, db):
    """The working day's pages are on the record as the queue is: My work lists the
    patients one holds; the metrics are counts only, but who read them is kept too."""
    client, staff = signed_in_client(app, db, email="ada@example.org", role=StaffRole.ADMIN)
    held = make_request(db)
    db.execute(
        update(AppointmentRequest)
        .where(AppointmentRequest.id == held.id)
        .values(claimed_by_id=staff.id, status=RequestStatus.IN_PROGRESS)
    )
    db.commit()
    assert client.get("/staff/my-work").status_code == 200
    [work] = entries(db, "my_work_view")
    assert (work.staff_id, work.to_value) == (staff.id, "1 rows")
    assert client.get("/staff/metrics?start=2026-11-01&end=2026-11-20").status_code == 200
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    download = client.post(
        "/staff/metrics.csv", data={"start": "2026-11-02", "end": "2026-11-03", "csrf_token": token}
    )
    assert download.status_code == 200
    [view] = entries(db, "metrics_view")
    [export] = entries(db, "metrics_export")
    assert view.detail == "2026-11-01 to 2026-11-20"
    assert export.detail == "2026-11-02 to 2026-11-03"
    assert {view.staff_id, export.staff_id} == {staff.id}


def test_take_next_is_recorded_as_a_claim(app, db):
    oldest = make_request(db, submitted_at=datetime(2026, 11, 2, 9, tzinfo=UTC))
    client, staff = signed_in_client(app, db)
    token = csrf_from(client.get("/staff/queue").get_data(as_text=True))
    taken = client.post(
        "/staff/next", data={"csrf_token": token, "referral": "any", "interpreter": "needed"}
    )
    assert taken.status_code == 303
    # The request asked for needs no interpreter: nothing taken, nothing claimed.
    assert entries(db, "claim") == []
    client.post("/staff/next", data={"csrf_token": token, "referral": "any", "interpreter": "any"})
    [claim] = entries(db, "claim")
    assert (claim.staff_id, claim.request_id) == (staff.id, oldest.id)
    assert claim.detail == "take next: referral=any interpreter=any"
