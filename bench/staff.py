"""The staff pages at 100,000 requests: latency over HTTP, SQL statements in-process.

Latency: one signed-in member of staff, one request at a time, against the production
server, each page ``samples`` times after a few warm-up requests. Searches are posted, as
the queue's search form posts them (a patient's name never goes in a URL), and the
redirect to the results page is followed: a search's time is both requests'.

Statements: the same pages through Flask's test client on an app built in this process
against the same database, counting what the engine sends. A page is "fixed" when its
first page and a deep page of the same view send the same number of statements.
"""

from __future__ import annotations

import html
import re
import time
import urllib.parse
from dataclasses import dataclass

import psycopg
import pyotp
from sqlalchemy import event

from . import load, seed

_CSRF_INPUT = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
_CSRF_INPUT_ALT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)"')
STAFF_EMAIL = "staff2@bench.example"
ADMIN_EMAIL = "staff1@bench.example"  # the seed's one admin, for the metrics page


def password_hash(password: str) -> str:
    from app.accounts import staff_accounts

    return staff_accounts.hasher(staff_accounts.HashCost()).hash(password)


@dataclass(frozen=True)
class Page:
    label: str
    kind: str  # "queue" or "detail"
    method: str
    path: str
    form: dict[str, str] | None = None
    # The same view on its first page, for the "fixed number of statements" check.
    first_page_of: str | None = None
    # Text the page must show, so that a search that found nothing cannot pass as fast.
    expect: str | None = None
    # What a good answer is (take-next answers 303 to the request it claimed).
    status: int = 200
    admin: bool = False

    @property
    def shown_path(self) -> str:
        """What the report prints: the path, and for a posted search what was searched
        for in general terms (the seed's names are made up, but the habit matters)."""
        if self.method == "POST" and self.form:
            kept = {k: v for k, v in self.form.items() if k != "q"}
            what = " + search" if self.form.get("q") else ""
            return f"POST {self.path} {urllib.parse.urlencode(kept)}{what}"
        return self.path


def pages(database_url: str, summary: seed.SeedSummary) -> list[Page]:
    with psycopg.connect(seed.psycopg_url(database_url)) as conn:
        # Deep pages by keyset: the row half-way through everything, and the last full page
        # of the open queue.
        middle = conn.execute(
            "SELECT id FROM appointment_requests ORDER BY submitted_at, id "
            "OFFSET (SELECT count(*) / 2 FROM appointment_requests) LIMIT 1"
        ).fetchone()[0]
        open_deep = conn.execute(
            "SELECT id FROM appointment_requests WHERE status IN ('new', 'in_progress') "
            "ORDER BY submitted_at, id OFFSET greatest((SELECT count(*) FROM "
            "appointment_requests WHERE status IN ('new', 'in_progress')) - 60, 0) LIMIT 1"
        ).fetchone()[0]
        common_name = conn.execute(
            # Plain letters, so that the page shows it exactly as typed (no HTML escapes).
            "SELECT last_name FROM appointment_requests WHERE last_name ~ '^[A-Za-z]+$' "
            "GROUP BY last_name "
            "ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
    shown_reference = _shown(summary.sample_reference)
    return [
        Page("queue, first page (open, oldest first)", "queue", "GET", "/staff/queue"),
        Page(
            "queue, deep page (open, last page)",
            "queue",
            "GET",
            f"/staff/queue?after={open_deep}",
            first_page_of="/staff/queue",
        ),
        Page("all requests, first page", "queue", "GET", "/staff/queue?status=all"),
        Page(
            "all requests, deep page (50,000 in)",
            "queue",
            "GET",
            f"/staff/queue?status=all&after={middle}",
            first_page_of="/staff/queue?status=all",
        ),
        Page(
            "filtered: closed, referred",
            "queue",
            "GET",
            "/staff/queue?status=closed&referral=referred",
        ),
        Page(
            "search by name (most common last name, all statuses)",
            "queue",
            "POST",
            "/staff/queue",
            {"status": "all", "referral": "any", "claim": "any", "q": common_name},
            expect=common_name,
        ),
        Page(
            "search by a name nobody has (all statuses)",
            "queue",
            "POST",
            "/staff/queue",
            {"status": "all", "referral": "any", "claim": "any", "q": "Zzyzxq"},
            expect="No requests match.",
        ),
        Page(
            "search by reference",
            "queue",
            "POST",
            "/staff/queue",
            {"status": "all", "referral": "any", "claim": "any", "q": shown_reference},
            expect=shown_reference,
        ),
        Page("my work (everything I hold, due first)", "queue", "GET", "/staff/my-work"),
        Page("overdue filter", "queue", "GET", "/staff/queue?status=overdue"),
        Page(
            "take the next request (claims one)",
            "queue",
            "POST",
            "/staff/next",
            {"referral": "any", "interpreter": "any"},
            status=303,
        ),
        Page("access metrics (last 30 days)", "queue", "GET", "/staff/metrics", admin=True),
        Page(
            "request detail (history, duplicates)",
            "detail",
            "GET",
            f"/staff/requests/{summary.sample_detail_reference}",
            expect=_shown(summary.sample_detail_reference),
        ),
    ]


def _shown(reference: str) -> str:
    return "-".join(reference[i : i + 4] for i in range(0, 12, 4))


def totp_code(database_url: str, email: str = STAFF_EMAIL) -> str:
    """An account's current code. A code is accepted once only, and the bench signs the
    same account in more than once within 30 seconds, so the last step used is forgotten
    first (as if it had waited for the next code)."""
    with psycopg.connect(seed.psycopg_url(database_url)) as conn:
        conn.execute(
            "UPDATE staff_second_factors SET last_used_step = NULL WHERE staff_id = "
            "(SELECT id FROM staff_users WHERE email = %s)",
            (email,),
        )
    return pyotp.TOTP(seed.STAFF_TOTP_SECRET).now()


def sign_in(port: int, database_url: str, email: str = STAFF_EMAIL) -> load.Browser:
    browser = load.Browser("127.0.0.1", port)
    status, _, body = browser.request("GET", "/staff/login")
    token = _csrf(body.decode())
    data = {"csrf_token": token, "email": email, "password": seed.STAFF_PASSWORD}
    status, headers, _ = browser.request("POST", "/staff/login", load.encode(data))
    if status != 303:
        raise RuntimeError(f"staff sign-in answered {status}")
    # The second factor: the code page, then the code.
    status, _, body = browser.request("GET", "/staff/sign-in/code")
    data = {"csrf_token": _csrf(body.decode()), "code": totp_code(database_url, email)}
    status, headers, _ = browser.request("POST", "/staff/sign-in/code", load.encode(data))
    if status != 303:
        raise RuntimeError(f"staff second factor answered {status}")
    return browser


def _csrf(html: str) -> str:
    match = _CSRF_INPUT.search(html) or _CSRF_INPUT_ALT.search(html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def _is_search(page: Page) -> bool:
    return page.method == "POST" and bool((page.form or {}).get("q"))


def _timed(browser: load.Browser, page: Page, csrf: str) -> tuple[float, int]:
    body = None
    if page.method == "POST":
        body = load.encode({**(page.form or {}), "csrf_token": csrf})
    start = time.perf_counter()
    status, headers, _ = browser.request(page.method, page.path, body)
    if _is_search(page) and status == 303:
        # The search is held server-side; the results are the page it redirects to.
        location = urllib.parse.urlsplit(headers["location"])
        status, _, _ = browser.request("GET", f"{location.path}?{location.query}")
    return time.perf_counter() - start, status


def count_statements(database_url: str, page_list: list[Page]) -> dict[str, int]:
    """Statements per page, from an app in this process on the same database."""
    from app import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench-only-not-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SESSION_COOKIE_SECURE": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    engine = app.extensions["db_engine"]
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    clients = {}
    for admin, email in ((False, STAFF_EMAIL), (True, ADMIN_EMAIL)):
        clients[admin] = app.test_client()
        response = clients[admin].post(
            "/staff/login", data={"email": email, "password": seed.STAFF_PASSWORD}
        )
        if response.status_code == 303:
            response = clients[admin].post(
                "/staff/sign-in/code", data={"code": totp_code(database_url, email)}
            )
        if response.status_code != 303:
            raise RuntimeError(f"in-process sign-in answered {response.status_code}")
    event.listen(engine, "before_cursor_execute", count)
    counts = {}
    try:
        for page in page_list:
            client = clients[page.admin]
            send = client.post if page.method == "POST" else client.get
            send(page.path, data=page.form)  # warm: the first use of a query compiles it
            statements.clear()
            response = send(page.path, data=page.form)
            if _is_search(page) and response.status_code == 303:
                response = client.get(response.headers["Location"])
            if response.status_code != page.status:
                raise RuntimeError(f"{page.label}: {response.status_code}")
            text = response.get_data(as_text=True)
            if page.expect and page.expect not in text and html.escape(page.expect) not in text:
                raise RuntimeError(f"{page.label}: the page does not show what was asked for")
            counts[page.label] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()
    return counts


def measure(port: int, database_url: str, summary: seed.SeedSummary, *, samples: int) -> dict:
    page_list = pages(database_url, summary)
    browsers = {
        False: sign_in(port, database_url),
        True: sign_in(port, database_url, ADMIN_EMAIL),
    }
    browser = browsers[False]
    _, _, body = browser.request("GET", "/staff/queue")
    csrf = _csrf(body.decode())
    _, _, body = browsers[True].request("GET", "/staff/queue")
    admin_csrf = _csrf(body.decode())
    counts = count_statements(database_url, page_list)
    out = []
    for page in page_list:
        page_browser = browsers[page.admin]
        for _ in range(5):
            _timed(page_browser, page, csrf if not page.admin else admin_csrf)
        latencies, errors = [], 0
        for _ in range(samples):
            elapsed, status = _timed(page_browser, page, csrf if not page.admin else admin_csrf)
            if status != page.status:
                errors += 1
            latencies.append(elapsed)
        out.append(
            {
                "label": page.label,
                "kind": page.kind,
                "path": page.shown_path,
                "samples": samples,
                "errors": errors,
                "p50": load.percentile(latencies, 50),
                "p95": load.percentile(latencies, 95),
                "statements": counts[page.label],
                "first_page_of": page.first_page_of,
            }
        )
    first_pages = {p.path: counts[p.label] for p in page_list}
    for row, page in zip(out, page_list, strict=True):
        if page.first_page_of:
            row["same_as_first_page"] = first_pages[page.first_page_of] == row["statements"]
    return {
        "pages": out,
        "cookie": dict(browser.cookies),
        "memory_paths": [page_list[0].path, page_list[3].path, page_list[-1].path],
    }
