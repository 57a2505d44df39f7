"""Staff pages opened without signing in: every one in the log, at most one audit entry
per address (its /64 for IPv6) per minute. A scanner used to write 300 chained entries,
kept six years, in 1.2 seconds; the trail is for events about accounts and patient data.
"""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import select

from app.models import AuditEvent
from tests.support.staff import client_from, csrf_from, signed_in_client

SCANNER = "198.51.100.23"


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        from app.ops.logs import SafeJsonFormatter

        self.setFormatter(SafeJsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


def refusals(db) -> list[AuditEvent]:
    db.rollback()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in_required")))


def test_a_scanner_fills_the_log_not_the_trail(app, db):
    lines = Lines()
    logging.getLogger("intake.security").addHandler(lines)
    try:
        scanner = client_from(app, SCANNER)
        paths = ["/staff/queue", "/staff/audit", "/staff/requests/AAAABBBBCCCC",
                 "/staff/requests/chain%20continues%20from%20" + "ab" * 32]  # fmt: skip
        for n in range(300):
            assert scanner.get(paths[n % len(paths)]).status_code == 302
        # A /64 is one address too.
        for n in range(20):
            client_from(app, f"2001:db8:9:9::{n + 1}").get("/staff/queue")
        client_from(app, "192.0.2.44").get("/staff/queue")
    finally:
        logging.getLogger("intake.security").removeHandler(lines)
    rows = refusals(db)
    by_address = {}
    for row in rows:
        by_address[row.client_ip] = by_address.get(row.client_ip, 0) + 1
    assert by_address[SCANNER] == 1
    assert sum(n for ip, n in by_address.items() if ip.startswith("2001:db8:9:9:")) == 1
    assert by_address["192.0.2.44"] == 1
    logged = [line for line in lines.lines if line.get("event") == "sign_in_required"]
    assert len(logged) == 321
    assert {line["client_ip"] for line in logged[:300]} == {SCANNER}
    assert all("?" not in line["detail"] for line in logged)


def test_the_next_minute_gets_its_own_entry(app, db, monkeypatch):
    scanner = client_from(app, SCANNER)
    scanner.get("/staff/queue")
    scanner.get("/staff/queue")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 61)
    scanner.get("/staff/queue")
    assert len(refusals(db)) == 2


def test_a_session_that_ended_is_always_on_the_record_with_its_account(app, db):
    client, staff = signed_in_client(app, db)
    client.get("/staff/queue")
    html = client.get("/staff/queue").get_data(as_text=True)
    with client.session_transaction() as session:
        session["staff_seen"] -= app.config["STAFF_IDLE_MINUTES"] * 60 + 1
    assert client.post("/staff/logout", data={"csrf_token": csrf_from(html)}).status_code == 302
    with client.session_transaction() as session:
        assert "staff_id" not in session
    rows = refusals(db)
    assert [(r.staff_id, r.detail) for r in rows] == [(staff.id, "POST /staff/logout")]
