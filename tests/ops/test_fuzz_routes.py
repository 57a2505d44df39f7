"""Every route of the URL map, public and signed in, with hostile methods, paths, query
strings and bodies: never a 5xx, and every request stored passes the form's own rules.

In-process (Flask's test client), so 5,000 examples take well under a minute per backend.
HYPOTHESIS_PROFILE=dev runs 200.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
from urllib.parse import quote

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AppointmentRequest, Referral, StaffRole
from app.requests.fields import STEPS
from tests.conftest import make_test_app
from tests.ops.test_fuzz import BASE, NASTY, assert_follows_the_rules, changes
from tests.support.databases import migrate_to_head, postgres_url, prepare_postgres
from tests.support.forms import SEND_URL, start, step_url
from tests.support.staff import PASSWORD, csrf_from, make_request, make_staff, sign_in

# Every POST of the public journey: its steps and the send.
JOURNEY_POSTS = [*(step_url(step) for step in STEPS), SEND_URL]

pytestmark = pytest.mark.slow

settings.register_profile("routes-ci", parent=settings.get_profile("ci"), max_examples=5000)
settings.register_profile("routes-dev", parent=settings.get_profile("ci"), max_examples=200)
PROFILE = "routes-dev" if os.environ.get("HYPOTHESIS_PROFILE") == "dev" else "routes-ci"

METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]
FIELD_NAMES = [
    *BASE, "csrf_token", "form_token", "website", "note", "to_status", "close_reason",
    "status_note", "password", "q", "status", "referral", "claim", "staff", "reference",
    "after", "before", "form_language",
]  # fmt: skip
# A NUL (PostgreSQL refuses it in any text) and digits that are not ASCII (Arabic-Indic,
# Persian, full-width, Devanagari, mathematical: Python's int() and str.isdigit() take
# them, a database column or a code check may not), alone and inside a value (issue 25).
NUL_AND_DIGITS = ["\x00", "a\x00b", "\x00" * 3, "١٢٣٤٥٦", "۱۲۳۴۵۶", "１２３４５６", "१२३",
                  "𝟏𝟐𝟑", "813 ５５５ 0123", "3\x006", "٣"]  # fmt: skip
HUGE = ["9223372036854775807", "9223372036854775808", "18446744073709551616", "1" * 40,
        "-9223372036854775809", "1e309", "NaN", "0x10", "²", "٣"]  # fmt: skip
CONTENT_TYPES = [
    "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=b",
    "multipart/form-data; boundary=", "application/json", "text/plain", "application/xml",
    "application/x-www-form-urlencoded; charset=utf-16", "image/png", "", "*/*; q=\x00",
]  # fmt: skip

# Short values (long ones cost generation time, not coverage: a few fixed long ones stand
# in for them); the public form's own fuzzing uses test_fuzz's longer texts.
value = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Mn"]), max_size=5),
    st.sampled_from(NASTY + HUGE + NUL_AND_DIGITS + ["x" * 5000, "\u00e9" * 300]),
)
# Ranges: unsatisfiable, reversed, malformed, of another unit, and huge (numbers past
# 2^64, thousands of parts).
RANGES = ["bytes=99999999-", "bytes=-0", "bytes=5-1", "bytes=abc", "bytes=\x00-1", "pages=1-2",
          "bytes=0-99999999999999999999999", "bytes=99999999999999999999999-", "bytes=-",
          "bytes=" + ",".join(["0-1"] * 300), "bytes=0-1," * 2000, "bytes=٣-"]  # fmt: skip
# Hosts no link can be built for: over 255 characters, a label over 63, empty labels.
HOSTS = ["a" * 300, "a" * 64 + ".example.org", "a..b", "x." * 130 + "org", ".", "\u00e9" * 70]
headers = st.fixed_dictionaries(
    {},
    optional={"Range": st.sampled_from(RANGES), "Host": st.sampled_from(HOSTS)},
)
# Multipart parts without a name, or with an empty one (no browser sends either).
NAMELESS_PARTS = [
    b"Content-Disposition: form-data\r\n\r\nx",
    b'Content-Disposition: form-data; name=""\r\n\r\nx',
    b'Content-Disposition: form-data; filename="a.txt"\r\n\r\nx',
    b'Content-Disposition: form-data; name=""; filename=""\r\n\r\n\x00',
    b"\r\nx",
]


def multipart(parts: list[bytes], csrf: str | None) -> bytes:
    if csrf is not None:
        parts = [*parts, b'Content-Disposition: form-data; name="csrf_token"\r\n\r\n'
                 + csrf.encode()]  # fmt: skip
    return b"".join(b"--b\r\n" + part + b"\r\n" for part in parts) + b"--b--\r\n"


query = st.lists(
    st.tuples(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), value), max_size=4
).map(lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs))
raw_query = st.sampled_from(["%", "%zz", "a=%ff%fe", "after=%00", "=&=&", "a" * 3000, "q=%u0041"])
upload = st.builds(lambda data, name: (io.BytesIO(data), name), st.binary(max_size=200),
                   st.sampled_from(["x.txt", "", "../../etc/passwd", "a\x00b"]))  # fmt: skip
form_body = st.dictionaries(
    st.sampled_from(FIELD_NAMES),
    st.one_of(value, st.lists(value, max_size=3), upload),
    max_size=8,
)
raw_body = st.tuples(st.sampled_from(CONTENT_TYPES), st.binary(max_size=300))
nested = st.recursive(
    value, lambda inner: st.lists(inner) | st.dictionaries(st.text(max_size=5), inner), max_leaves=5
)
json_body = st.dictionaries(st.sampled_from(FIELD_NAMES), nested, max_size=5)


@st.composite
def path_for(draw, rule, references: list[str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        part = draw(
            st.one_of(
                st.sampled_from(references),
                st.sampled_from(["%00", "..", "%2e%2e", "a%2Fb", "%ff", "x" * 300]),
                value.map(lambda t: quote(t, safe="")),
            )
        )
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", lambda _m, p=part: p, path)
    return path


def make_route_app(url: str):
    migrate_to_head(url)
    app = make_test_app(url, RATELIMIT_ENABLED=False)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with Session(app.extensions["db_engine"]) as db:
        make_staff(app, db, email="fuzz-admin@example.org", role=StaffRole.ADMIN)
        app.fuzz_references = [make_request(db).reference for _ in range(3)]
    app.fuzz_public = app.test_client()
    app.fuzz_public_csrf = start(app.fuzz_public)
    app.fuzz_staff = app.test_client()
    _sign_in(app)
    app.fuzz_rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    app.fuzz_counts = {"examples": 0, "5xx": 0, "stored": 0}
    return app


def _sign_in(app) -> None:
    if app.fuzz_staff.get("/staff/queue").status_code != 200:
        assert sign_in(app.fuzz_staff, "fuzz-admin@example.org", PASSWORD).status_code == 303
    app.fuzz_staff_csrf = csrf_from(app.fuzz_staff.get("/staff/queue").get_data(as_text=True))


@pytest.fixture(scope="module")
def postgres_routes_app():
    url = postgres_url()
    prepare_postgres(url)
    app = make_route_app(url)
    yield app
    print(f"\nroutes fuzz (postgresql): {app.fuzz_counts}")
    app.extensions["db_engine"].dispose()
    prepare_postgres(url)
    migrate_to_head(url)


@pytest.fixture(scope="module")
def sqlite_routes_app(tmp_path_factory):
    app = make_route_app(f"sqlite:///{tmp_path_factory.mktemp('routes') / 'routes.sqlite3'}")
    yield app
    print(f"\nroutes fuzz (sqlite): {app.fuzz_counts}")
    app.extensions["db_engine"].dispose()


@st.composite
def hostile_requests(draw, app) -> dict:
    rule = draw(st.sampled_from(app.fuzz_rules))
    signed_in = draw(st.booleans())
    method = draw(st.sampled_from(sorted(rule.methods)) | st.sampled_from(METHODS))
    path = draw(path_for(rule, app.fuzz_references))
    if draw(st.integers(0, 3)) == 0:
        # Every address in Spanish too (/es/...: public pages answer, the rest is a 404).
        path = "/es" + path
    qs = draw(st.one_of(st.just(""), query, raw_query))
    request = {"signed_in": signed_in, "method": method, "path": path, "query": qs,
               "headers": draw(headers)}  # fmt: skip
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        kind = draw(st.sampled_from(["form", "public form", "public form", "poisoned form",
                                     "nameless parts", "raw", "json"]))  # fmt: skip
        csrf = app.fuzz_staff_csrf if signed_in else app.fuzz_public_csrf
        if kind == "public form":
            # Any page of the journey, with a whole form's worth of answers.
            request["method"], request["path"] = "POST", draw(st.sampled_from(JOURNEY_POSTS))
            request["data"] = {**BASE, **draw(changes), "csrf_token": csrf,
                               "form_token": secrets.token_urlsafe(24)}  # fmt: skip
        elif kind == "poisoned form":
            # Every field of the whole form and of the staff forms, the form token too,
            # with a NUL or digits that are not ASCII in it.
            poison = st.sampled_from(NUL_AND_DIGITS)
            body = {name: draw(poison) for name in FIELD_NAMES}
            body["csrf_token"] = csrf
            if draw(st.booleans()):
                request["method"], request["path"] = "POST", draw(st.sampled_from(JOURNEY_POSTS))
            request["data"] = body
        elif kind == "nameless parts":
            parts = draw(st.lists(st.sampled_from(NAMELESS_PARTS), min_size=1, max_size=3))
            token = csrf if draw(st.booleans()) else None
            request["raw"] = ("multipart/form-data; boundary=b", multipart(parts, token))
        elif kind == "form":
            body = draw(form_body)
            if draw(st.booleans()):
                body["csrf_token"] = csrf
            request["data"] = body
        elif kind == "raw":
            content_type, data = draw(raw_body)
            request["raw"] = (content_type, data)
        else:
            request["raw"] = ("application/json", json.dumps(draw(json_body)).encode())
    return request


def send(app, request: dict):
    client = app.fuzz_staff if request["signed_in"] else app.fuzz_public
    kwargs = {"method": request["method"], "query_string": request["query"] or None,
              "headers": request.get("headers") or None}  # fmt: skip
    if "data" in request:
        data = request["data"]
        has_file = any(isinstance(v, tuple) for v in data.values())
        kwargs["data"] = data
        if has_file:
            kwargs["content_type"] = "multipart/form-data"
    elif "raw" in request:
        content_type, data = request["raw"]
        kwargs["data"] = data
        kwargs["content_type"] = content_type
    return client.open(request["path"], **kwargs)


def check(app, request: dict) -> None:
    # Closed at once: a file's answer (/favicon.ico) holds the file open until then.
    with send(app, request) as response:
        response.get_data()
    app.fuzz_counts["examples"] += 1
    event(f"{request['method']} → {response.status_code // 100}xx")
    if response.status_code >= 500:
        app.fuzz_counts["5xx"] += 1
    assert response.status_code < 500, (
        request["method"], request["path"], request.get("headers"), response.status_code
    )  # fmt: skip
    if response.status_code >= 400 and request["method"] != "HEAD":
        if response.is_json:
            # The passkey endpoints (issue 13) answer their script in JSON: a reason, no page.
            assert "error" in response.get_json(), "a JSON error says what was wrong"
        else:
            assert "<title>" in response.get_data(as_text=True), "an error page in the site's look"

    location = response.headers.get("Location", "")
    if request["path"] == SEND_URL and response.status_code == 303 and "/received/" in location:
        with Session(app.extensions["db_engine"]) as db:
            row = db.scalars(
                select(AppointmentRequest).where(
                    AppointmentRequest.reference == location.rsplit("/", 1)[-1]
                )
            ).one_or_none()
            if row is not None:  # None: the robot trap answered
                app.fuzz_counts["stored"] += 1
                referral = db.scalars(
                    select(Referral).where(Referral.request_id == row.id)
                ).one_or_none()
                assert_follows_the_rules(row, referral)

    if request["path"].startswith("/staff/log"):
        # Signing in or out (or failing to) starts a new session: the next examples need
        # a signed-in staff member and a browser with a CSRF token again.
        _sign_in(app)
        app.fuzz_public_csrf = start(app.fuzz_public)


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_every_route_answers_hostile_requests_without_a_5xx_on_postgresql(
    postgres_routes_app, data
):
    check(postgres_routes_app, data.draw(hostile_requests(postgres_routes_app)))


@settings(settings.get_profile(PROFILE))
@given(data=st.data())
def test_every_route_answers_hostile_requests_without_a_5xx_on_sqlite(sqlite_routes_app, data):
    check(sqlite_routes_app, data.draw(hostile_requests(sqlite_routes_app)))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_every_request_stored_by_the_fuzzing_follows_the_rules(request, backend):
    app = request.getfixturevalue(f"{backend}_routes_app")
    with Session(app.extensions["db_engine"]) as db:
        rows = db.scalars(select(AppointmentRequest)).all()
        for row in rows:
            if row.reference in app.fuzz_references:
                continue  # made directly through the service, not by the form
            referral = db.scalars(select(Referral).where(Referral.request_id == row.id)).first()
            assert_follows_the_rules(row, referral)
