"""Staff data for the browser: an account made with the documented command
(`flask staff create`), and requests written straight into the server's database."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tests.support.live_server import LiveServer

STAFF_PASSWORD = "browser tests only 1234"  # noqa: S105


@dataclass(frozen=True)
class StaffAccount:
    email: str
    name: str
    password: str = STAFF_PASSWORD


def staff_side_exists(server: LiveServer) -> bool:
    try:
        with urllib.request.urlopen(server.url + "/staff/login", timeout=5) as response:  # noqa: S310
            return response.status == 200
    except urllib.error.HTTPError:
        return False


def create_staff(server: LiveServer, account: StaffAccount, *, role: str = "intake") -> None:
    done = server.flask(
        "staff", "create", account.email, "--name", account.name, "--role", role,
        input=account.password + "\n",
    )  # fmt: skip
    assert done.returncode == 0, f"flask staff create failed:\n{done.stdout}\n{done.stderr}"


def add_requests(server: LiveServer, *people: dict) -> list[str]:
    """Store requests, each ``{"first_name", "last_name", "days_ago", ...}``; return
    their references."""
    from tests.support.staff import make_request

    engine = create_engine(server.database_url)
    references = []
    try:
        with Session(engine) as db:
            for person in people:
                fields = dict(person)
                days_ago = fields.pop("days_ago", 0)
                row = make_request(
                    db, submitted_at=datetime.now(UTC) - timedelta(days=days_ago), **fields
                )
                references.append(row.reference)
    finally:
        engine.dispose()
    return references


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/staff/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def seed_staff_journey(server: LiveServer) -> tuple[str, str]:
    """An admin account and a few requests, for pictures of the staff pages."""
    account = StaffAccount(email="pat.admin@example.org", name="Pat Admin")
    from tests.support.staff import a_referral

    create_staff(server, account, role="admin")
    add_requests(
        server,
        {"first_name": "Grace", "last_name": "Okafor", "days_ago": 6, "interpreter_needed": True},
        {"first_name": "Lena", "last_name": "Marsh", "days_ago": 2, "referral": a_referral()},
        {"first_name": "Rosa", "last_name": "Delgado", "days_ago": 1, "language": "spanish"},
    )
    return account.email, account.password
