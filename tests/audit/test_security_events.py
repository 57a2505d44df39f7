"""Security events go to the JSON log as well as the audit trail, never with a
password, code or secret."""

from __future__ import annotations

import json
import logging

from app.audit.security_events import SECURITY_EVENTS
from app.models import StaffSecondFactor
from app.ops.logs import SafeJsonFormatter
from tests.auth.test_second_factor import enrol_through_the_pages, post_code, post_password
from tests.support.staff import PASSWORD, csrf_from, make_staff, sign_in


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.setFormatter(SafeJsonFormatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def test_security_events_are_logged_without_secrets(app, db):
    collect = Collect()
    logging.getLogger().addHandler(collect)
    try:
        staff = make_staff(app, db, enrol=False)
        client = app.test_client()
        sign_in(client, password="my wrong guess 1")
        post_password(client)
        codes = enrol_through_the_pages(client, db, staff.id)
        html = client.get("/staff/queue").get_data(as_text=True)
        client.post("/staff/logout", data={"csrf_token": csrf_from(html)})
        other = app.test_client()
        post_password(other)
        post_code(other, "999999")
        post_password(other)
        post_code(other, codes[0])
    finally:
        logging.getLogger().removeHandler(collect)
    db.rollback()
    secret = db.get(StaffSecondFactor, staff.id).totp_secret
    events = [json.loads(line) for line in collect.lines if '"security event"' in line]
    kinds = [e["event"] for e in events]
    for kind in ("sign_in_failed", "second_factor_enrolled", "sign_in", "sign_out",
                 "second_factor_failed", "recovery_code_used"):  # fmt: skip
        assert kind in kinds, kind
    assert set(kinds) <= SECURITY_EVENTS
    text = "\n".join(collect.lines)
    for private in (PASSWORD, "my wrong guess 1", secret, codes[0], codes[0].replace("-", "")):
        assert private not in text
