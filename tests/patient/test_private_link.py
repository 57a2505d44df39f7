"""The private link: a random token stored as a keyed hash, the date of birth first in a new
browser, wrong answers limited per link and per address, a fresh link ends the old one,
and it stops working some days after closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.models import AuditEvent, OutboxMessage, RequestLink
from app.requests import private_links
from app.vocabulary import MessageKind
from tests.patient.conftest import link_token, open_page, post_from
from tests.support.staff import make_request, signed_in_client


def test_the_link_asks_the_date_of_birth_then_shows_the_request(app, db):
    request = make_request(db)
    token = link_token(db, request.id)
    client = app.test_client()
    assert (
        client.get("/your-request").headers["Location"].endswith("/your-request/link-not-working")
    )

    opened = client.get(f"/your-request/open?key={token}")
    # To a clean address: the token stays out of the history and any Referer.
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith("/your-request/check")
    assert client.get("/your-request").headers["Location"].endswith("/your-request/check")

    wrong = open_page(client, token, born=("3", "28", "1965"))
    assert wrong.status_code == 400
    assert "does not match our records" in wrong.get_data(as_text=True)
    assert client.get("/your-request").status_code == 303

    right = open_page(client, token)
    assert right.status_code == 303 and right.headers["Location"].endswith("/your-request")
    page = client.get("/your-request")
    assert page.status_code == 200
    assert "We received your request" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    # Another browser (no session) is asked again.
    assert app.test_client().get("/your-request").status_code == 303


def test_only_a_keyed_hash_of_the_token_is_stored(app, db):
    request = make_request(db)
    token = link_token(db, request.id)
    hashes = db.scalars(select(RequestLink.token_hash)).all()
    assert len(hashes) == 1 and token not in hashes[0] and len(token) == 32
    # The reference alone opens nothing.
    client = app.test_client()
    response = client.get(f"/your-request/open?key={request.reference.lower()}")
    assert response.headers["Location"].endswith("/your-request/link-not-working")


def test_a_made_up_or_malformed_token_opens_nothing(app, db):
    make_request(db)
    client = app.test_client()
    for key in ["", "a" * 32, "x" * 500, "%00", "../../etc"]:
        response = client.get("/your-request/open", query_string={"key": key})
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/your-request/link-not-working")


def test_wrong_answers_lock_the_link_and_then_even_the_right_one_waits(app, db):
    request = make_request(db)
    token = link_token(db, request.id)
    client = app.test_client()
    for _ in range(app.config["PATIENT_LINK_ATTEMPTS"] - 1):
        assert open_page(client, token, born=("1", "1", "1970")).status_code == 400
    assert open_page(client, token, born=("1", "1", "1970")).status_code == 429
    assert open_page(client, token).status_code == 429
    db.rollback()
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.request_id == request.id)).all()
    assert actions.count("patient_link_refused") == app.config["PATIENT_LINK_ATTEMPTS"]


def test_wrong_answers_are_limited_per_address_across_links(app, db):
    app.config["PATIENT_CHECK_RATE_LIMIT"] = "3 per hour"
    requests = [make_request(db) for _ in range(4)]
    client = app.test_client()
    codes = [
        open_page(client, link_token(db, r.id), born=("1", "1", "1970")).status_code
        for r in requests
    ]
    assert codes == [400, 400, 400, 429]
    # Right answers are never counted.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    for r in requests[:3]:
        assert open_page(other, link_token(db, r.id)).status_code == 303


def test_staff_send_a_fresh_link_and_the_old_one_stops(app, db):
    request = make_request(db)
    old = link_token(db, request.id)
    browser = app.test_client()
    assert open_page(browser, old).status_code == 303
    staff, _ = signed_in_client(app, db)
    url = f"/staff/requests/{request.reference}"
    assert post_from(staff, url, f"{url}/link", {}).status_code == 303
    new = link_token(db, request.id)
    assert new != old
    # The browser that used the old link is asked again; the old link opens nothing.
    assert browser.get("/your-request").headers["Location"].endswith("/link-not-working")
    assert (
        app.test_client()
        .get(f"/your-request/open?key={old}")
        .headers["Location"]
        .endswith("/link-not-working")
    )
    assert open_page(app.test_client(), new).status_code == 303
    db.rollback()
    message = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message.kind == "request_link" and message.recipient == "maria@example.com"


def test_the_link_works_until_some_days_after_closing(app, db):
    request = make_request(db)
    token = link_token(db, request.id)
    days = app.config["PATIENT_LINK_DAYS_AFTER_CLOSING"]
    policy = private_links.LinkPolicy(days_after_closing=days)
    now = datetime.now(UTC)
    request.status, request.closed_at = "closed", now - timedelta(days=days - 1)
    db.commit()
    assert private_links.open_link(db, token=token, now=now, policy=policy) is not None
    db.rollback()
    client = app.test_client()
    assert open_page(client, token).status_code == 303
    assert "This request is closed" in client.get("/your-request").get_data(as_text=True)
    request.closed_at = now - timedelta(days=days + 1)
    db.commit()
    assert private_links.open_link(db, token=token, now=now, policy=policy) is None
    db.rollback()
    assert client.get("/your-request").headers["Location"].endswith("/link-not-working")


def test_the_browser_that_sent_the_request_needs_no_date_of_birth(app, db):
    request = make_request(db)
    client = app.test_client()
    with client.session_transaction() as session:
        session["submitted_references"] = [request.reference]
    response = post_from(
        client,
        f"/request-appointment/received/{request.reference}",
        "/your-request/from-confirmation",
        {"reference": request.reference},
    )
    assert response.headers["Location"].endswith("/your-request")
    assert client.get("/your-request").status_code == 200
    # Another reference, not sent from this browser, gets nothing.
    other = make_request(db, first_name="Ana")
    stranger = app.test_client()
    response = post_from(
        stranger,
        "/your-request/new-link",
        "/your-request/from-confirmation",
        {"reference": other.reference},
    )
    assert response.headers["Location"].endswith("/link-not-working")


def test_asking_again_answers_the_same_whether_or_not_it_matches(app, db):
    request = make_request(db)
    old = link_token(db, request.id)
    client = app.test_client()

    def ask(reference, born, contact):
        return post_from(
            client,
            "/your-request/new-link",
            "/your-request/new-link",
            {
                "reference": reference,
                "dob_month": born[0],
                "dob_day": born[1],
                "dob_year": born[2],
                "contact": contact,
            },
            follow_redirects=True,
        )

    wrong = ask(request.reference, ("3", "27", "1966"), "maria@example.com")
    by_phone = ask(request.reference.lower(), ("3", "27", "1965"), "(813) 555-0123")
    assert wrong.status_code == by_phone.status_code == 200
    assert wrong.get_data(as_text=True) == by_phone.get_data(as_text=True)
    new = link_token(db, request.id)
    assert new != old
    messages = db.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.request_id == request.id)
    ).all()
    assert messages.count("request_link") == 1
    # Asked for too often, the person's inbox is spared; the page says the same.
    for _ in range(4):
        ask(request.reference, ("3", "27", "1965"), "maria@example.com")
    db.rollback()
    messages = db.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.request_id == request.id)
    ).all()
    assert messages.count("request_link") == private_links.RESEND_AT_MOST


def test_asking_again_says_what_to_fix_and_keeps_what_was_typed(app, db):
    client = app.test_client()
    response = post_from(
        client,
        "/your-request/new-link",
        "/your-request/new-link",
        {
            "reference": "nonsense",
            "dob_month": "2",
            "dob_day": "30",
            "dob_year": "1965",
            "contact": "not a thing",
        },
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Enter the reference number, like K7QM-4XPD-9RTA" in text
    assert "Date of birth must be a real date" in text
    assert 'value="nonsense"' in text and 'value="not a thing"' in text


def test_the_pages_and_the_e_mail_are_in_spanish_for_a_spanish_request(app, db):
    from app.mail import messages

    request = make_request(db, form_language="es")
    token = link_token(db, request.id)
    message = messages.build(
        kind=MessageKind.CONFIRMATION,
        locale="es",
        token="a" * 32,
        recipient="maria@example.com",
        payload={"reference": request.reference, "link": token},
        created_at=datetime.now(UTC),
        settings=messages.MailSettings(
            sender="Citas <citas@example.org>",
            center_name="Centro",
            center_phone="1-888-663-3488",
            callback_phone="1-888-663-3488",
            reply_days=2,
            public_url="https://intake.example.org",
        ),
    )
    text = message.get_body(("plain",)).get_content()
    assert f"https://intake.example.org/es/your-request/open?key={token}" in text
    assert "Su página privada" in text
    client = app.test_client()
    opened = client.get(f"/es/your-request/open?key={token}")
    assert opened.headers["Location"].endswith("/es/your-request/check")
    check = client.get("/es/your-request/check").get_data(as_text=True)
    assert 'lang="es"' in check and "Confirme la fecha de nacimiento del paciente" in check
    assert open_page(client, token, prefix="/es").headers["Location"].endswith("/es/your-request")
    page = client.get("/es/your-request").get_data(as_text=True)
    assert "Su solicitud" in page and "Recibimos su solicitud el" in page
    assert "hora oriental" in page
    # The switch leads to the same page in English, in the same session.
    assert "We received your request" in client.get("/your-request").get_data(as_text=True)


def test_the_status_says_where_it_stands_without_staff_names_or_notes(app, db):
    request = make_request(db)
    reference, request_id = request.reference, request.id
    token = link_token(db, request_id)
    staff, _ = signed_in_client(app, db, name="Casey Coordinator")
    url = f"/staff/requests/{reference}"
    assert post_from(staff, url, f"{url}/claim", {}).status_code == 303
    moved = post_from(
        staff,
        url,
        f"{url}/status",
        {"to_status": "contacted", "status_note": "Secret internal note: left voicemail"},
    )
    assert moved.status_code == 303
    client = app.test_client()
    open_page(client, token)
    page = client.get("/your-request").get_data(as_text=True)
    assert "We have called about your request." in page
    assert "We tried to call you on" in page
    for hidden in ("Casey", "Coordinator", "Secret internal note", "voicemail"):
        assert hidden not in page
    post_from(
        staff,
        url,
        f"{url}/status",
        {"to_status": "closed", "close_reason": "not_eligible", "status_note": "not eligible"},
    )
    page = client.get("/your-request").get_data(as_text=True)
    assert "This request is closed." in page and "1-888-663-3488" in page
    assert "eligible" not in page.lower()
