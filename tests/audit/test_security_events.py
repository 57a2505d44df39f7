"""Security events go to the JSON log as well as the audit trail, never with a
password, code or secret."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from app.audit.security_events import SECURITY_EVENTS
from app.models import StaffSecondFactor
from app.ops.logs import SafeJsonFormatter
from tests.auth.test_second_factor import create_with_the_command, post_code, post_password
from tests.support.staff import PASSWORD, csrf_from, finish_set_up, sign_in, use_link


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
        link = create_with_the_command(app)
        client = app.test_client()
        sign_in(client, password="my wrong guess 1")
        use_link(client, link)
        secret, codes = finish_set_up(client)
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
    assert db.scalars(select(StaffSecondFactor.totp_secret)).one() == secret
    events = [json.loads(line) for line in collect.lines if '"security event"' in line]
    kinds = [e["event"] for e in events]
    for kind in ("sign_in_failed", "second_factor_enrolled", "sign_in", "sign_out",
                 "second_factor_failed", "recovery_code_used"):  # fmt: skip
        assert kind in kinds, kind
    assert set(kinds) <= SECURITY_EVENTS
    text = "\n".join(collect.lines)
    for private in (PASSWORD, "my wrong guess 1", secret, codes[0], codes[0].replace("-", "")):
        assert private not in text
