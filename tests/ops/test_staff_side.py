"""The production protections on the staff side: no-store and security headers on every
staff page (signed in), rate-limited sign-in attempts, and no patient data in the logs
while staff work a request."""

import pytest

from app.models import StaffRole
from tests.ops.test_headers import assert_security_headers, every_route, is_no_store
from tests.ops.test_logs import MARKED, MARKERS, assert_no_markers, captured_logs, parsed
from tests.support.forms import submit
from tests.support.staff import PASSWORD, make_staff, post_form, signed_in_client

__all__ = ["captured_logs"]  # the fixture, used by name below


def test_every_staff_page_signed_in_is_never_stored_and_sends_the_headers(app, db):
    public = app.test_client()
    location = submit(public, MARKED).headers["Location"]
    reference = location.rsplit("/", 1)[-1]
    client, admin = signed_in_client(app, db, role=StaffRole.ADMIN)
    staff_routes = [
        (
            endpoint,
            url.replace("ABCDEFGHJKMN", reference).replace("/accounts/1", f"/accounts/{admin.id}"),
        )
        for endpoint, url in every_route(app)
        if url.startswith("/staff/")
    ]
    assert len(staff_routes) >= 4
    for endpoint, url in staff_routes:
        # The one-time link's page without a valid link, a request's document or release
        # that this test never made, and the provider's pages of an app without OIDC_ISSUER
        # answer 404.
        may_be_missing = endpoint in (
            "auth.welcome",
            "intake.document_preview",
            "intake.release_print",
            "auth.provider_sign_in",
            "auth.provider_proof",
            "auth.provider_callback",
        )
        expected = (200, 302, 303, 404) if may_be_missing else (200, 302, 303)
        with client.get(url) as response:
            assert response.status_code in expected, f"{endpoint} {url}"
            assert is_no_store(response), f"{endpoint} {url}"
            assert_security_headers(response, f"{endpoint} {url}")


@pytest.fixture
def app_overrides():
    return {"SIGNIN_RATE_LIMIT": "3 per hour", "STAFF_LOCKOUT_ATTEMPTS": 50}


def test_sign_in_attempts_are_rate_limited_per_address(app, db):
    make_staff(app, db)
    client = app.test_client()
    statuses = []
    for _ in range(4):
        statuses.append(
            post_form(
                client, "/staff/login", {"email": "casey@example.org", "password": "wrong"},
                page="/staff/login",
            ).status_code
        )  # fmt: skip
    assert statuses == [200, 200, 200, 429]
    # The sign-in page itself can still be read.
    assert client.get("/staff/login").status_code == 200
    # Even the right password waits: the limit is on attempts, not failures.
    right = post_form(
        client, "/staff/login", {"email": "casey@example.org", "password": PASSWORD},
        page="/staff/login",
    )  # fmt: skip
    assert right.status_code == 429


def test_staff_work_on_a_marked_request_logs_no_patient_data(app, db, captured_logs):
    location = submit(app.test_client(), MARKED).headers["Location"]
    reference = location.rsplit("/", 1)[-1]
    client, _ = signed_in_client(app, db, role=StaffRole.ADMIN)
    page = f"/staff/requests/{reference}"
    for search in (MARKED["last_name"], MARKED["email"]):
        searched = post_form(client, "/staff/queue", {"q": search})
        assert searched.status_code == 303
        assert client.get(searched.headers["Location"]).status_code == 200
    assert client.get(page).status_code == 200
    assert post_form(client, f"{page}/claim", page=page).status_code in (302, 303)
    note = {"note": f"Spoke to {MARKED['submitter_name']} at {MARKED['phone']}"}
    assert post_form(client, f"{page}/notes", note, page=page).status_code in (302, 303)
    move = {"to_status": "contacted", "status_note": MARKED["first_name"]}
    assert post_form(client, f"{page}/status", move, page=page).status_code in (200, 302, 303)
    # A note too long, so the form comes back with an error and what was typed.
    long_note = {"note": MARKED["last_name"] * 400}
    post_form(client, f"{page}/notes", long_note, page=page)
    assert client.get("/staff/export.csv").status_code == 405  # POST only
    assert post_form(client, "/staff/export.csv", {"q": MARKED["first_name"]}).status_code == 200
    assert client.get("/staff/audit").status_code == 200
    # A sign-in with a patient's address typed by mistake.
    app.test_client().post("/staff/login", data={"email": MARKED["email"], "password": "x"})

    records = parsed(captured_logs)
    assert records, "something was logged"
    assert_no_markers(records)
    assert MARKERS
