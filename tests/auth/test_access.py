"""Every staff route needs sign-in, admin routes need the admin role.

The routes come from the application's URL map, so a route added later without
protection fails here without anyone remembering to add it to a list.
"""

from __future__ import annotations

import pytest

from app.auth.access import ACCESS_ATTRIBUTE
from app.models import StaffRole
from tests.support.staff import make_request, signed_in_client

# The sign-in steps before a session exists: the password, the code (or setting up the
# app), and the one-time link of a new account. Each checks its own precondition.
PUBLIC_STAFF_ENDPOINTS = {
    "auth.login",
    "auth.second_factor_check",
    "auth.second_factor_setup",
    "auth.welcome",
    "auth.passkey_sign_in_options",
    "auth.passkey_sign_in",
    # The hospital's identity provider (issue 32): leaving for it and coming back.
    "auth.provider_sign_in",
    "auth.provider_callback",
    # The provider's own server posting a signed logout token: no browser, no session.
    "auth.provider_backchannel_logout",
}
EXPECTED_ADMIN_ENDPOINTS = {
    "admin.audit_trail",
    "admin.export_csv",
    "admin.accounts",
    "admin.new_account",
    "admin.account",
    "admin.change_role",
    "admin.deactivate",
    "admin.reactivate",
    "admin.reset_second_factor",
    "admin.unlink_provider",
    "admin.end_sessions",
    "admin.new_link",
}
# The e-mail outbox page (issue 18).
EXPECTED_ADMIN_ENDPOINTS |= {"admin.outbox_page", "admin.outbox_send_again"}
# FHIR export (issue 19).
EXPECTED_ADMIN_ENDPOINTS |= {
    "admin.request_fhir",
    "admin.fhir_export",
    "admin.fhir_export_download",
}
# The coordinator's working day (issue 16).
EXPECTED_ADMIN_ENDPOINTS |= {"admin.metrics", "admin.metrics_csv", "intake.reopen"}
# What ops see (issue 30): the journey's funnel.
EXPECTED_ADMIN_ENDPOINTS |= {"admin.journey"}


@pytest.fixture
def app_overrides() -> dict:
    # Without CSRF, a POST reaches the view itself: what is tested is the access check,
    # not the CSRF check that would otherwise answer first.
    return {"WTF_CSRF_ENABLED": False}


def staff_routes(app) -> list[tuple[str, str, str]]:
    """(method, url, endpoint) for every /staff/ rule, parameters filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff"):
            continue
        # A row id (<id:...>, app/factory.py) is 1; anything else, a reference.
        values = {
            arg: 1 if f"<id:{arg}>" in rule.rule else "AAAABBBBCCCC" for arg in rule.arguments
        }
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            routes.append((method, url, rule.endpoint))
    return routes


def test_the_walk_finds_the_staff_routes(app):
    endpoints = {endpoint for _, _, endpoint in staff_routes(app)}
    assert {"intake.queue", "intake.request_detail", "intake.claim", "auth.logout"} <= endpoints
    assert EXPECTED_ADMIN_ENDPOINTS <= endpoints


def test_every_staff_view_declares_who_may_use_it(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/staff"):
            view = app.view_functions[rule.endpoint]
            assert getattr(view, ACCESS_ATTRIBUTE, None) in {"public", "staff", "admin"}, (
                f"{rule.endpoint} has no access decorator"
            )


def test_every_staff_route_needs_sign_in(app, db):
    client = app.test_client()
    checked = 0
    for method, url, endpoint in staff_routes(app):
        if endpoint in PUBLIC_STAFF_ENDPOINTS:
            continue
        response = client.open(url, method=method)
        assert response.status_code in (302, 303), f"{method} {url} answered {response.status_code}"
        assert "/staff/login" in response.headers["Location"], f"{method} {url}"
        checked += 1
    assert checked >= 10


def test_admin_routes_refuse_intake_staff(app, db):
    client, _ = signed_in_client(app, db, role=StaffRole.INTAKE)
    admin_routes = [
        (method, url, endpoint)
        for method, url, endpoint in staff_routes(app)
        if getattr(app.view_functions[endpoint], ACCESS_ATTRIBUTE) == "admin"
    ]
    assert {endpoint for _, _, endpoint in admin_routes} == EXPECTED_ADMIN_ENDPOINTS
    for method, url, _endpoint in admin_routes:
        response = client.open(url, method=method)
        assert response.status_code == 403, f"{method} {url} answered {response.status_code}"


def test_admin_routes_open_for_admins(app, db):
    client, _ = signed_in_client(app, db, role=StaffRole.ADMIN, email="ada@example.org")
    assert client.get("/staff/audit").status_code == 200
    assert client.post("/staff/export.csv").status_code == 200


def test_intake_staff_reach_the_staff_pages(app, db):
    row = make_request(db)
    client, _ = signed_in_client(app, db)
    assert client.get("/staff/queue").status_code == 200
    assert client.get(f"/staff/requests/{row.reference}").status_code == 200
    assert client.get("/staff/requests/AAAABBBBCCCC").status_code == 404
