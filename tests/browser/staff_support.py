"""Staff data for the browser: an account made with the documented command
(`flask staff create`, which prints a one-time set-up link), and requests written
straight into the server's database."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
from playwright.sync_api import Page
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from app.audit import chain
from app.models import StaffSecondFactor, StaffUser
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
    _servers[account.email] = server
    _set_up_links[account.email] = set_up_link_in(done.stdout)


def set_up_link_in(output: str) -> str:
    """The one-time link a `flask staff ...` command printed, as a path on the server."""
    links = [line for line in output.splitlines() if line.startswith("http")]
    assert links, f"the command printed a set-up link:\n{output}"
    parts = urlsplit(links[-1])
    return f"{parts.path}?{parts.query}"


# Which server each account lives on: the sign-in helper reads its authenticator secret
# from there, as the person's phone would know it. And the set-up link of an account
# that has not used it yet: its first sign-in goes through it.
_servers: dict[str, LiveServer] = {}
_set_up_links: dict[str, str] = {}


def add_requests(server: LiveServer, *people: dict) -> list[str]:
    """Store requests, each ``{"first_name", "last_name", "days_ago", ...}``; return
    their references."""
    from tests.support.staff import make_request

    engine = create_engine(server.database_url)
    # The server's audit key on every connection, as app/db.py attaches it: a request's
    # private link is stored as a hash keyed with it (issue 29).
    key = chain.derive_key(
        secret_key=server.env["SECRET_KEY"], audit_hash_key=server.env.get("AUDIT_HASH_KEY")
    )
    event.listen(
        engine, "connect", lambda _conn, record: record.info.__setitem__(chain.KEY_INFO, key)
    )
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


def sign_in(page: Page, email: str, password: str, *, base: str = "", check=None) -> None:
    """Password, then the second factor as a person does it: the first time, through the
    set-up link `flask staff create` printed (the password, then the authenticator app
    from the page, its key shown as text, and past the recovery codes); later, the
    password and the app's current code."""
    if email in _set_up_links:
        first_sign_in(page, email, password, base=base, check=check)
        return
    page.goto(base + "/staff/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page, email, check=check)


def first_sign_in(page: Page, email: str, password: str, *, base: str = "", check=None) -> None:
    """The first sign-in of an account `flask staff create` made: its one-time link,
    the password, then the authenticator app. ``check`` (a function of the page and a
    label) is called on each page passed through; ``base`` opens the link on another
    address of the server (http://localhost:PORT for passkeys)."""
    link = _set_up_links.pop(email, None)
    if link is None:  # set up already: another test signed this account in first
        sign_in(page, email, password, base=base, check=check)
        return
    page.goto(base + link)
    if check:
        check(page, "set-up link")
    page.get_by_label("Your password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    pass_second_factor(page, email, check=check)


def pass_second_factor(page: Page, email: str, check=None) -> None:
    """On the page after a right password: set up the app or type its code. ``check``
    (a function of the page and a label) is called on each page passed through."""
    if page.url.endswith("/staff/sign-in/set-up"):
        if check:
            check(page, "second factor set-up")
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).now())
        with page.expect_navigation():
            page.get_by_role("button", name="Finish setting up").click()
        if check:
            check(page, "recovery codes")
        with page.expect_navigation():
            page.get_by_role("link", name="I have kept them: continue").click()
    elif page.url.endswith("/staff/sign-in/code"):
        if check:
            check(page, "second factor code")
        page.get_by_label("Code", exact=True).fill(_current_code(email))
        with page.expect_navigation():
            page.get_by_role("button", name="Continue").click()


def _current_code(email: str) -> str:
    """The app's code now. A code is accepted once only, and these tests sign the same
    account in several times within 30 seconds: the last step used is forgotten first,
    as if the test had waited for the next code."""
    server = _servers[email]
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as db:
            staff = db.scalars(select(StaffUser).where(StaffUser.email == email)).one()
            factor = db.get(StaffSecondFactor, staff.id)
            assert factor is not None, f"{email} has set up an authenticator app"
            factor.last_used_step = None
            db.commit()
            return pyotp.TOTP(factor.totp_secret).now()
    finally:
        engine.dispose()


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
