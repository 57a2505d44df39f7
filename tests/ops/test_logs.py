"""Logs are JSON lines with a request id and never carry patient data, whatever happens."""

import io
import json
import logging
import os

import pytest
from sqlalchemy.exc import OperationalError

from app.ops.logs import RequestIdFilter, SafeJsonFormatter, request_id_for
from app.requests import appointment_requests
from tests.conftest import count_rows
from tests.support.forms import (
    FORM_URL,
    SEND_URL,
    open_form,
    referral_answers,
    submit,
    valid_answers,
)

# Every field filled with a value that is valid but unmistakable in a log.
MARKED = valid_answers(
    has_referral="yes",
    physician_npi="1234567893",
    submitter="someone_else",
    submitter_name="Quillonsubmitter",
    submitter_relationship="Quillonrelation",
    submitter_phone="727-555-0166",
    submitter_email="quillonsubmitter@example.com",
    call_first="caregiver",
    first_name="Quillonfirst",
    last_name="Quillonlast",
    dob_month="4",
    dob_day="17",
    dob_year="1958",
    email="quillon.patient@example.com",
    phone="(813) 555-0177",
    zip_code="33617",
    language="other",
    language_other="Quillonlanguage",
    insurance_carrier="Quilloncarrier",
    message="Quillonmessage <b>bold</b>",
    physician_name="Dr Quillonphysician",
    physician_phone="727-555-0155",
    physician_practice="Quillonpractice",
    physician_fax="727 555 0144",
    physician_email="quillon.doctor@example.com",
)
MARKERS = [
    "quillon",  # every text field, matched without case
    "5550166",
    "555-0166",
    "5550177",
    "555-0177",
    "5550155",
    "555-0155",
    "5550144",
    "555 0144",
    "1958-04-17",
    "33617",
    "1234567893",  # the NPI
]


@pytest.fixture
def captured_logs():
    """Everything logged at any level, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeJsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # Even SQL echo, were someone to turn it on, hides the values.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    yield stream
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    root.removeHandler(handler)
    root.setLevel(old_level)


def parsed(stream: io.StringIO) -> list[dict]:
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def assert_no_markers(records: list[dict]) -> None:
    for record in records:
        # Timestamps and random ids can contain any digits; everything else is searched.
        searched = {k: v for k, v in record.items() if k not in ("timestamp", "request_id")}
        text = json.dumps(searched, ensure_ascii=False).lower()
        for marker in MARKERS:
            assert marker not in text, f"{marker!r} logged in {record}"


def test_marked_requests_and_errors_leave_no_patient_data_in_logs(
    client, db, captured_logs, monkeypatch
):
    # A good request, stored.
    assert submit(client, MARKED).status_code == 303
    # The same values with a mistake: the form comes back with errors.
    assert (
        submit(client, {**MARKED, "consent": None, "dob_day": "31", "dob_month": "2"}).status_code
        == 200
    )
    # A robot filling in the trap.
    assert submit(client, {**MARKED, "website": "Quillonbot"}).status_code == 303
    # Patient data in a query string, where it should never be.
    client.get(FORM_URL + "?first_name=Quillonfirst&email=quillon.patient@example.com")

    # The database fails at commit, with the values in the error's text.
    # (Built outside the raising line: a traceback shows the source line that raised.)
    statement, params, cause = "INSERT " + MARKED["first_name"], MARKED, Exception(MARKED["email"])

    def failing_commit(self):
        raise OperationalError(statement, params, cause)

    with monkeypatch.context() as patch:
        patch.setattr("sqlalchemy.orm.Session.commit", failing_commit)
        assert submit(client, MARKED).status_code == 503

    # A bug: an exception whose message quotes the patient.
    def broken_submit(*_args, details, **_kwargs):
        raise RuntimeError(f"cannot store {details.first_name} {details.email} {details.phone}")

    client.application.config["PROPAGATE_EXCEPTIONS"] = False
    with monkeypatch.context() as patch:
        patch.setattr(appointment_requests, "submit_request", broken_submit)
        assert submit(client, MARKED).status_code == 500

    assert count_rows(db, "appointment_requests") == 1
    records = parsed(captured_logs)
    assert any(r.get("logger") == "sqlalchemy.engine.Engine" for r in records), "SQL was logged"
    assert any("exc_info" in r for r in records), "the 500 and the 503 were logged"
    assert_no_markers(records)


def test_log_lines_carry_the_request_id_that_the_response_names(client, captured_logs, monkeypatch):
    def failing_commit(self):
        raise OperationalError("COMMIT", {}, Exception("gone"))

    tokens = open_form(client)
    monkeypatch.setattr("sqlalchemy.orm.Session.commit", failing_commit)
    response = client.post(SEND_URL, data={**referral_answers(), **tokens})
    assert response.status_code == 503
    request_id = response.headers["X-Request-ID"]
    warnings = [r for r in parsed(captured_logs) if r["level"] == "WARNING"]
    assert warnings and all(r["request_id"] == request_id for r in warnings)
    assert "OperationalError" in warnings[0]["exc_info"]


def test_a_well_formed_request_id_from_the_proxy_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "proxy-abc-12345"})
    assert response.headers["X-Request-ID"] == "proxy-abc-12345"
    forged = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert forged.headers["X-Request-ID"] != "<script>alert(1)</script>"


def test_request_ids_differ_between_a_worker_and_its_parent():
    # gunicorn forks its workers: a child must not hand out the ids its parent will.
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child)
        os.write(write_end, request_id_for(None).encode())
        os._exit(0)
    os.waitpid(child, 0)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.close(write_end)
    parent_ids = {request_id_for(None) for _ in range(3)}
    assert len(parent_ids) == 3
    assert len(child_id) == 32
    assert child_id[:16] not in {i[:16] for i in parent_ids}
