"""Every route of the app, not only /staff, is classified: who may reach it.

Whole blueprints are for anyone (the public side, health checks, Flask's static files), or
each of their views declares its access with the decorators of ``app/auth/access.py``. A
new blueprint is in neither list, so every test here fails until someone decides.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from app.auth.access import ACCESS_ATTRIBUTE
from tests.conftest import make_test_app

# Blueprints (None: the app's own routes, i.e. static files) whose every page is for anyone.
# The private page of a request ("patient") asks for its link and the date of birth
# itself (app/patient/views.py), and is tested from the attacker's side in tests/patient.
FOR_ANYONE = {"public", "patient", "ops", None}
# Blueprints whose every view carries login_required, admin_required or public.
DECLARED_PER_VIEW = {"auth", "intake", "admin"}
ACCESS_LEVELS = {"public", "staff", "admin"}


def blueprint_of(app: Flask, endpoint: str) -> str | None:
    return endpoint.rsplit(".", 1)[0] if "." in endpoint else None


def unclassified(app: Flask) -> list[str]:
    """Endpoints nobody has decided about."""
    problems = []
    for rule in app.url_map.iter_rules():
        blueprint = blueprint_of(app, rule.endpoint)
        view = app.view_functions[rule.endpoint]
        access = getattr(view, ACCESS_ATTRIBUTE, None)
        if blueprint in DECLARED_PER_VIEW:
            if access not in ACCESS_LEVELS:
                problems.append(f"{rule.endpoint} ({rule.rule}) has no access decorator")
        elif blueprint in FOR_ANYONE:
            if access in ("staff", "admin"):
                problems.append(f"{rule.endpoint} needs sign-in inside a blueprint for anyone")
        else:
            problems.append(f"{rule.endpoint} ({rule.rule}): blueprint {blueprint!r} unclassified")
    return problems


def test_every_route_of_the_url_map_is_classified(app):
    assert unclassified(app) == []
    blueprints = {blueprint_of(app, rule.endpoint) for rule in app.url_map.iter_rules()}
    assert blueprints == FOR_ANYONE | DECLARED_PER_VIEW


def test_a_new_blueprint_fails_the_walk_until_classified(database_url):
    app = make_test_app(database_url)
    reports = Blueprint("reports", __name__, url_prefix="/reports")
    reports.add_url_rule("/monthly", "monthly", lambda: "patients this month")
    app.register_blueprint(reports)
    assert unclassified(app) == [
        "reports.monthly (/reports/monthly): blueprint 'reports' unclassified"
    ]


def test_a_staff_view_without_a_decorator_fails_the_walk(database_url):
    from app import intake

    app = make_test_app(database_url)
    app.add_url_rule("/staff/forgotten", "intake.forgotten", lambda: "queue")
    assert unclassified(app) == ["intake.forgotten (/staff/forgotten) has no access decorator"]
    assert intake.bp.name in DECLARED_PER_VIEW


def test_pages_for_anyone_answer_without_sign_in(app):
    client = app.test_client()
    samples = {"reference": "ABCDEFGHJKMN", "filename": "css/site.css"}
    checked = 0
    with app.test_request_context():
        urls = [
            (
                rule.endpoint,
                app.url_for(rule.endpoint, **{a: samples.get(a, "1") for a in rule.arguments}),
            )
            for rule in app.url_map.iter_rules()
            if blueprint_of(app, rule.endpoint) in FOR_ANYONE and "GET" in (rule.methods or ())
        ]
    for endpoint, url in urls:
        with client.get(url) as response:
            assert "/staff/login" not in response.headers.get("Location", ""), endpoint
        checked += 1
    assert checked >= 4
