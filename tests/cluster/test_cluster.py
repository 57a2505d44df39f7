"""The production topology, proven: nginx with the shipped deploy/nginx.conf in front of two
app hosts (two gunicorn masters, each with its workers) on one PostgreSQL and one Redis.

Everything goes through nginx, as a visitor's browser would. nginx's round robin sends
successive requests to alternate hosts, and its access log says which host answered each
request id, so each test can show that what it checks held across hosts.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pyotp
import pytest
import redis
from sqlalchemy import create_engine, text

from deploy.cluster import ROOT, Cluster, flask_command
from tests.cluster.conftest import FORM_LIMIT
from tests.cluster.support import (
    AccessLog,
    Browser,
    Reply,
    cache_entries,
    cache_validity,
    csrf_of,
    expire_cache_entry,
    reference_of,
)
from tests.ops.test_gunicorn_errors import HOSTILE_REQUESTS, OBS_TEXT_REQUESTS
from tests.support.forms import SEND_URL, form_tokens, valid_answers, walk

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"  # noqa: S105
RESULTS = ROOT / "instance" / "cluster" / "test-results.json"


@pytest.fixture(scope="module")
def log(cluster) -> AccessLog:
    return AccessLog(cluster.nginx.access_log)


@pytest.fixture(scope="module")
def database(cluster):
    engine = create_engine(cluster.database_url)
    yield engine
    engine.dispose()


def hosts_of(cluster: Cluster) -> set[str]:
    return {host.address for host in cluster.hosts}


def rows_for(database, email: str) -> list[str]:
    with database.connect() as conn:
        return list(
            conn.scalars(
                text("SELECT reference FROM appointment_requests WHERE email = :e"), {"e": email}
            )
        )


def make_staff(cluster: Cluster, email: str, name: str) -> None:
    result = flask_command(
        cluster.env, "staff", "create", email, "--name", name, input=PASSWORD + "\n"
    )
    assert result.returncode == 0, result.stderr
    # The one-time set-up link the command printed (issue 26), as a path on the cluster.
    (link,) = [line for line in result.stdout.splitlines() if line.startswith("http")]
    parts = urlsplit(link)
    _set_up_links[email] = f"{parts.path}?{parts.query}"


_set_up_links: dict[str, str] = {}


def sign_in(browser: Browser, email: str) -> None:
    """A new account's first sign-in, as the person would (issue 26): the set-up link,
    the password, then the authenticator app from the key shown as text."""
    link = _set_up_links.pop(email)
    page = browser.request("GET", link)
    reply = browser.request("POST", link, {"csrf_token": csrf_of(page), "password": PASSWORD})
    assert reply.status == 303, reply.status
    assert reply.headers["location"].endswith("/staff/sign-in/set-up")
    page = browser.request("GET", "/staff/sign-in/set-up")
    match = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.body)
    assert match, "the set-up page shows the key"
    code = pyotp.TOTP(match.group(1).replace(" ", "")).now()
    reply = browser.request(
        "POST", "/staff/sign-in/set-up", {"csrf_token": csrf_of(page), "code": code}
    )
    # Signed in: the recovery codes, once, and the way on to the queue.
    assert reply.status == 200, reply.status
    assert 'href="/staff/queue"' in reply.body


# -- sessions, CSRF and the form across hosts ----------------------------------------------


def test_the_form_works_when_each_request_lands_on_another_host(cluster, log, database):
    browser = Browser(cluster.port, source="127.0.0.2")
    email = f"across.{uuid.uuid4().hex[:8]}@example.com"
    answered = []

    def request(method, path, data):
        reply = browser.request(method, path, data)
        answered.append(log.answered_by(reply.request_id))
        return reply.status, reply.headers, reply.body

    # A mistake first: the step comes back from the other host with what was typed (the
    # draft is in the database, the session in the signed cookie: any host reads both)...
    status, _, page = walk(request, valid_answers(email=email, dob_year=""))
    assert status == 200
    assert "data-error-summary" in page
    assert 'value="Santos-Ortiz"' in page
    # ...and, corrected, every step and "Check your answers" go on, whichever host answers.
    status, _, check = walk(request, valid_answers(email=email), send_it=False)
    assert status == 200 and "Check your answers" in check
    assert email in check
    tokens = form_tokens(check)
    sent = browser.request("POST", SEND_URL, tokens)
    answered.append(log.answered_by(sent.request_id))
    assert sent.status == 303, sent.status
    reference = reference_of(sent)
    # The confirmation opens only for the browser that sent the form: its session, read
    # by whichever host answers.
    confirmation = browser.request("GET", sent.headers["location"])
    answered.append(log.answered_by(confirmation.request_id))
    assert confirmation.status == 200
    assert "-".join(reference[i : i + 4] for i in (0, 4, 8)) in confirmation.body
    # The same request sent again (a double click, a retry) stores nothing more.
    again = browser.request("POST", SEND_URL, tokens)
    answered.append(log.answered_by(again.request_id))
    assert again.status == 303 and reference_of(again) == reference

    assert all(a != b for a, b in zip(answered, answered[1:], strict=False)), answered
    assert set(answered) == hosts_of(cluster)
    assert rows_for(database, email) == [reference]
    # Another browser learns nothing of that request, whichever host it asks.
    stranger = Browser(cluster.port, source="127.0.0.2")
    replies = [stranger.request("GET", sent.headers["location"]) for _ in range(2)]
    assert [r.status for r in replies] == [200, 200]
    # The reference is only in the page's own address, which its language switch and
    # hreflang links repeat (the same page in the other language).
    own = urlsplit(sent.headers["location"]).path
    for reply in replies:
        body = reply.body
        for twin in (own, own.replace("/request-appointment/", "/es/request-appointment/", 1)):
            body = body.replace(f'href="{twin}"', "")
        assert "Request received" not in body and reference not in body


# -- staff sessions ------------------------------------------------------------------------


def test_a_staff_session_holds_on_both_hosts_and_ends_on_both(cluster, log):
    make_staff(cluster, "robin@example.org", "Robin Intake")
    make_staff(cluster, "sam@example.org", "Sam Intake")

    robin = Browser(cluster.port, source="127.0.0.3")
    sign_in(robin, "robin@example.org")
    pages = [robin.request("GET", "/staff/queue") for _ in range(4)]
    assert [p.status for p in pages] == [200] * 4
    assert {log.answered_by(p.request_id) for p in pages} == hosts_of(cluster)

    # Signing out on one host ends the session on both: a copy of the old cookie (another
    # tab, a stolen cookie) is turned away by each host.
    copy = Browser(cluster.port, source="127.0.0.3", cookies=dict(robin.cookies))
    out = robin.request("POST", "/staff/logout", {"csrf_token": csrf_of(pages[-1])})
    assert out.status == 303
    after = [copy.request("GET", "/staff/queue") for _ in range(2)]
    assert [a.status for a in after] == [302, 302]
    assert all("/staff/login" in a.headers["location"] for a in after)
    assert {log.answered_by(a.request_id) for a in after} == hosts_of(cluster)

    # Deactivated by an operator on host 1: the session ends on both hosts.
    sam = Browser(cluster.port, source="127.0.0.4")
    sign_in(sam, "sam@example.org")
    assert [sam.request("GET", "/staff/queue").status for _ in range(2)] == [200, 200]
    result = flask_command(cluster.hosts[0].env, "staff", "deactivate", "sam@example.org")
    assert result.returncode == 0, result.stderr
    after = [sam.request("GET", "/staff/queue") for _ in range(2)]
    assert [a.status for a in after] == [302, 302]
    assert {log.answered_by(a.request_id) for a in after} == hosts_of(cluster)


# -- rate limits and the client's address --------------------------------------------------


def test_rate_limits_are_exact_across_hosts_whatever_a_client_forges(cluster, log, database):
    email = f"limited.{uuid.uuid4().hex[:8]}@example.com"
    # Requests filled in first (one browser each, from one address), so that the sends
    # themselves alternate between the hosts.
    forms = []
    for _ in range(FORM_LIMIT + 2):
        filler = Browser(cluster.port, source="127.0.0.5")

        def request(method, path, data, filler=filler):
            reply = filler.request(method, path, data)
            return reply.status, reply.headers, reply.body

        status, _, check = walk(request, valid_answers(email=email), send_it=False)
        assert status == 200, status
        forms.append((filler, form_tokens(check)))
    replies = []
    for i, (filler, tokens) in enumerate(forms):
        # A client claiming another address each time, to reset its count if it could.
        forged = {"X-Forwarded-For": f"203.0.113.{i + 1}", "X-Real-IP": f"198.51.100.{i + 1}"}
        replies.append(filler.request("POST", SEND_URL, tokens, forged))
    statuses = [r.status for r in replies]
    assert statuses == [303] * FORM_LIMIT + [429, 429], statuses
    refused_by = {log.answered_by(r.request_id) for r in replies[FORM_LIMIT:]}
    assert refused_by == hosts_of(cluster), "each host refused one: the count is shared"
    assert {log.answered_by(r.request_id) for r in replies[:FORM_LIMIT]} == hosts_of(cluster)
    assert all(r.headers.get("retry-after") for r in replies[FORM_LIMIT:])
    assert len(rows_for(database, email)) == FORM_LIMIT

    # The address the app counted by is the one nginx saw, on both hosts.
    ids = {r.request_id for r in replies}
    seen = set()
    for host in cluster.hosts:
        for line in host.log_path.read_text().splitlines():
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("logger") == "gunicorn.access" and entry.get("request_id") in ids:
                seen.add(entry["remote_addr"])
    assert seen == {"127.0.0.5"}
    store = redis.Redis.from_url(cluster.redis_url)
    keys = [k.decode() for k in store.scan_iter(f"*{cluster.key_prefix}*")]
    store.close()
    assert any("127.0.0.5" in k for k in keys), keys
    assert not any("203.0.113." in k or "198.51.100." in k for k in keys), keys

    # The audit trail records the same address for a staff sign-in with a forged header.
    liar = Browser(cluster.port, source="127.0.0.6", headers={"X-Forwarded-For": "10.9.8.7"})
    page = liar.request("GET", "/staff/login")
    liar.request(
        "POST",
        "/staff/login",
        {"csrf_token": csrf_of(page), "email": "nobody@example.org", "password": "wrong"},
    )
    with database.connect() as conn:
        addresses = set(conn.scalars(text("SELECT client_ip FROM audit_events")))
    assert "127.0.0.6" in addresses and "10.9.8.7" not in addresses


# -- what nginx keeps, and what it never keeps ---------------------------------------------


def kept_answer(visitor: Browser, path: str):
    """The next answer nginx gives from its cache. nginx files a copy once the host's
    answer has been read to the end, which can be a moment after the client has it: under
    load the very next request may still miss. Asked again a few times, never forever."""
    for _ in range(40):
        answer = visitor.request("GET", path)
        if answer.headers.get("x-cache-status") == "HIT":
            return answer
        # A copy nginx could not keep (a cookie, no-store) never turns into a HIT: this
        # only waits for the filing, at most four seconds.
        time.sleep(0.1)
    return answer


def test_nginx_keeps_the_public_page_and_nothing_marked_no_store(cluster, log):
    visitor = Browser(cluster.port, source="127.0.0.7")
    first = visitor.request("GET", "/")
    second = kept_answer(visitor, "/")
    assert first.status == second.status == 200
    assert first.headers["cache-control"] == "public, max-age=300"
    assert second.headers["x-cache-status"] == "HIT"
    assert log.upstream(second.request_id) == "-", "answered by nginx, no host asked"
    assert second.body == first.body and second.headers["etag"] == first.headers["etag"]
    # Every host, asked directly, has the same page under the same ETag.
    direct = [Browser(host.port).request("GET", "/") for host in cluster.hosts]
    assert {d.headers["etag"] for d in direct} == {first.headers["etag"]}
    # A browser that has the page gets a 304 from nginx.
    again = visitor.request("GET", "/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status == 304 and log.upstream(again.request_id) == "-"

    # Kept for the page's max-age (300 s from when it was stored)...
    entries = cache_entries(cluster.nginx.cache_dir)
    info_key = next(k for k in entries if k.endswith("/"))
    valid_until, stored_at = cache_validity(entries[info_key])
    assert valid_until - stored_at == 300
    # ...then revalidated with the app's ETag: the host answers 304 and sends no page.
    expire_cache_entry(entries[info_key])
    revalidated = visitor.request("GET", "/")
    assert revalidated.status == 200 and revalidated.body == first.body
    assert revalidated.headers["x-cache-status"] == "REVALIDATED"
    assert log.entry(revalidated.request_id)["upstream_status"] == "304"
    assert kept_answer(visitor, "/").headers["x-cache-status"] == "HIT"

    # The journey's first page (no-store) reaches a host every time: for a new visitor,
    # blank, with no token and no cookie; once the visitor holds a draft, their own page
    # with its token, never a copy of someone else's.
    forms = [visitor.request("GET", "/request-appointment") for _ in range(2)]
    assert all(f.headers["cache-control"] == "no-store" for f in forms)
    assert all(log.upstream(f.request_id) in hosts_of(cluster) for f in forms)
    assert 'name="csrf_token"' not in forms[0].body and not visitor.cookies
    visitor.request("POST", "/request-appointment/who", {"submitter": "patient"})
    own = visitor.request("GET", "/request-appointment")
    assert log.upstream(own.request_id) in hosts_of(cluster)
    assert csrf_of(own) and 'value="patient" checked' in own.body
    # A staff page (no-store) too.
    make_staff(cluster, "kim@example.org", "Kim Intake")
    kim = Browser(cluster.port, source="127.0.0.8")
    sign_in(kim, "kim@example.org")
    queue = [kim.request("GET", "/staff/queue") for _ in range(2)]
    assert all(q.status == 200 and q.headers["cache-control"] == "no-store" for q in queue)
    assert all(log.upstream(q.request_id) in hosts_of(cluster) for q in queue)

    # Nothing but public pages in nginx's cache: no form, no staff page, no patient data.
    kept = cache_entries(cluster.nginx.cache_dir)
    assert kept, "the information page is kept"
    assert all(re.fullmatch(r"http127\.0\.0\.1/", key) for key in kept), list(kept)
    for path in kept.values():
        data = path.read_bytes()
        assert b"Set-Cookie" not in data and b"@example.com" not in data

    # Static files under their plain names come from nginx itself, the same bytes as in
    # static/...
    css = visitor.request("GET", "/static/css/site.css")
    assert css.status == 200 and log.upstream(css.request_id) == "-"
    assert css.body == (ROOT / "static" / "css" / "site.css").read_text()
    # ...and under the fingerprinted name every page links, from a host once, kept a year
    # by browsers and by nginx, which answers it from then on.
    linked = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', first.body)
    assert linked, "the page links the fingerprinted stylesheet"
    fresh = visitor.request("GET", linked[1])
    assert fresh.status == 200 and fresh.body == css.body
    assert "immutable" in fresh.headers["cache-control"]
    assert "max-age=31536000" in fresh.headers["cache-control"]
    assert log.upstream(kept_answer(visitor, linked[1]).request_id) == "-"


def test_nginx_keeps_each_language_apart(cluster, log):
    """Issue 17 (and the Spanish page caching issue 20 left to prove here): nginx keeps
    /es/ and / as two pages; a Spanish visit never hands the next English visitor a
    Spanish page through nginx's cache, nor the reverse."""
    for first, second in (("/es/", "/"), ("/", "/es/")):
        visitor = Browser(cluster.port, source="127.0.0.9")
        visitor.request("GET", first)
        kept_first = kept_answer(visitor, first)
        kept_second = kept_answer(Browser(cluster.port, source="127.0.0.10"), second)
        assert kept_first.headers["x-cache-status"] == kept_second.headers["x-cache-status"]
        for path, answer in ((first, kept_first), (second, kept_second)):
            spanish = path == "/es/"
            assert answer.status == 200
            assert ('<html lang="es">' in answer.body) is spanish, path
            assert ("Cáncer de seno metastásico" in answer.body) is spanish, path
            assert log.upstream(answer.request_id) == "-", "from nginx's cache"
        assert kept_first.headers["etag"] != kept_second.headers["etag"]
    keys = cache_entries(cluster.nginx.cache_dir)
    assert any(key.endswith("/es/") for key in keys), list(keys)


# -- a lost host and a rolling deploy under load -------------------------------------------

SUBMISSIONS, CLIENTS = 1000, 20


class Load:
    """20 clients, 1,000 submissions; each submission a new visitor from an address of
    its own: fetch the form, send it, open the confirmation."""

    def __init__(self, cluster: Cluster, run: str) -> None:
        self.cluster = cluster
        self.run = run
        self.lock = threading.Lock()
        self.done = 0
        self.acknowledged: dict[str, str] = {}  # email -> reference
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.server_errors = 0
        self.cut_short: list[str] = []

    def email(self, n: int) -> str:
        return f"load.{self.run}.{n}@example.com"

    def request(self, browser: Browser, method: str, path: str, body=None) -> Reply:
        """One request, and once more if its answer was cut short. A host killed while
        writing an answer leaves nginx holding the status line and headers it already
        passed on, and no more: nothing can retry that for the person, whose page stops
        loading; they reload, or send the form again (the same form token: stored once)."""
        try:
            reply = browser.request(method, path, body)
        except http.client.IncompleteRead:
            with self.lock:
                self.cut_short.append(f"{method} {path.split('/received/')[0]}")
            reply = browser.request(method, path, body)
        with self.lock:
            self.statuses[reply.status] += 1
            if reply.status >= 500:
                self.server_errors += 1
        return reply

    def submit(self, n: int) -> None:
        browser = Browser(self.cluster.port, source=f"127.{10 + n // 250}.0.{n % 250 + 1}")
        try:

            def request(method, path, data):
                reply = self.request(browser, method, path, data)
                return reply.status, reply.headers, reply.body

            status, _, check = walk(request, valid_answers(email=self.email(n)), send_it=False)
            if status != 200:
                raise AssertionError(f"a step answered {status}")
            sent = self.request(browser, "POST", SEND_URL, form_tokens(check))
            if sent.status != 303:
                raise AssertionError(f"form answered {sent.status}")
            confirmation = self.request(browser, "GET", sent.headers["location"])
            if confirmation.status != 200:
                raise AssertionError(f"confirmation answered {confirmation.status}")
            with self.lock:
                self.acknowledged[self.email(n)] = reference_of(sent)
        except (OSError, http.client.HTTPException, AssertionError) as error:
            with self.lock:
                self.failures.append(f"{n}: {error!r}")
        finally:
            with self.lock:
                self.done += 1

    def wait_for(self, count: int) -> None:
        while self.done < count:
            time.sleep(0.05)


def wait_for_new_workers(host, old: set[int], timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        pids = set(host.worker_pids())
        if pids and not pids & old and len(pids) >= host_workers(host):
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{host.name} still has old workers after {timeout}s")


def host_workers(host) -> int:
    return int(host.env["GUNICORN_WORKERS"])


def test_a_thousand_submissions_survive_a_lost_host_and_a_rolling_deploy(cluster, log, database):
    load = Load(cluster, uuid.uuid4().hex[:8])
    lost, deployed = cluster.hosts
    events: list[str] = []
    log_start = len(log.lines())
    started = time.monotonic()

    def faults() -> None:
        def note(what: str) -> None:
            events.append(f"{time.monotonic() - started:5.1f}s after {load.done}: {what}")

        load.wait_for(150)
        lost.crash()
        note(f"{lost.name} killed (SIGKILL to its master and workers)")
        load.wait_for(350)
        old = set(deployed.worker_pids())
        deployed.reload()
        note(f"{deployed.name} deploy started (kill -HUP master) while {lost.name} is down")
        note(f"{deployed.name} all workers new after {wait_for_new_workers(deployed, old):.1f}s")
        load.wait_for(550)
        lost.start()
        note(f"{lost.name} started again and ready")
        load.wait_for(750)
        old = set(deployed.worker_pids())
        deployed.reload()
        note(f"{deployed.name} second deploy started")
        note(f"{deployed.name} all workers new after {wait_for_new_workers(deployed, old):.1f}s")

    driver = threading.Thread(target=faults, daemon=True)
    driver.start()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(load.submit, range(SUBMISSIONS)))
    elapsed = time.monotonic() - started
    driver.join(timeout=120)
    assert not driver.is_alive(), "the fault driver did not finish"

    with database.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT email, count(*), min(reference) FROM appointment_requests "
                "WHERE email LIKE :pattern GROUP BY email"
            ),
            {"pattern": f"load.{load.run}.%"},
        ).all()
    per_email = {email: (count, reference) for email, count, reference in stored}
    duplicates = sum(count - 1 for count, _ in per_email.values())
    missing = [e for e in load.acknowledged if e not in per_email]
    wrong = [e for e, ref in load.acknowledged.items() if e in per_email and per_email[e][1] != ref]

    entries = log.lines()[log_start:]
    retried = [e for e in entries if "," in e["upstream"]]
    by_host = Counter(e["upstream"].split(",")[-1].strip() for e in entries if e["upstream"] != "-")
    results = {
        "submissions": SUBMISSIONS,
        "clients": CLIENTS,
        "acknowledged": len(load.acknowledged),
        "stored": sum(count for count, _ in per_email.values()),
        "stored_twice": duplicates,
        "acknowledged_not_stored": len(missing),
        "stored_under_another_reference": len(wrong),
        "server_errors_seen_by_clients": load.server_errors,
        "answers_cut_short_by_the_kill": load.cut_short,
        "failures": len(load.failures),
        "responses_by_status": dict(sorted(load.statuses.items())),
        "requests_through_nginx": len(entries),
        "retried_by_nginx_on_the_other_host": len(retried),
        "retried_posts": sum(1 for e in retried if e["method"] == "POST"),
        "answered_by_host": dict(by_host),
        "seconds": round(elapsed, 1),
        "submissions_per_second": round(SUBMISSIONS / elapsed, 1),
        "events": events,
    }
    print("\ncluster under faults:\n" + json.dumps(results, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    assert load.failures == [], load.failures[:10]
    assert load.server_errors == 0
    # Only the kill cuts answers short, at most one per worker of the killed host.
    assert len(load.cut_short) <= host_workers(lost), load.cut_short
    assert len(load.acknowledged) == SUBMISSIONS
    assert missing == [] and wrong == [] and duplicates == 0
    assert len(per_email) == SUBMISSIONS
    assert len(events) == 6, events
    # Both hosts did real work, and the killed host was back for the last part.
    assert set(by_host) == hosts_of(cluster)
    assert lost.running() and deployed.running()
    # The information page still agrees across hosts after the deploys and the restart.
    etags = {Browser(host.port).request("GET", "/").headers["etag"] for host in cluster.hosts}
    assert len(etags) == 1


def raw_exchange(port: int, data: bytes) -> bytes:
    """The answer's status line and headers (nginx may keep the connection open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    return answer


def test_no_request_line_or_header_through_nginx_ends_a_worker(cluster):
    """Raw non-ASCII and control bytes through the shipped nginx: nginx or the app answers
    4xx, never 502, and both hosts are served by the same worker processes afterwards (a
    worker that died would have been replaced, and nginx would have tried the other host)."""
    before = {host.name: sorted(host.worker_pids()) for host in cluster.hosts}
    statuses = Counter()
    for data in HOSTILE_REQUESTS + OBS_TEXT_REQUESTS:
        answer = raw_exchange(cluster.port, data)
        statuses[answer.split(b" ", 2)[1].decode()] += 1
    # A Host no link can be built for: the app's 400 page, with the site's headers.
    long_host = raw_exchange(
        cluster.port, b"GET / HTTP/1.1\r\nHost: " + b"a" * 300 + b"\r\nConnection: close\r\n\r\n"
    )
    after = {host.name: sorted(host.worker_pids()) for host in cluster.hosts}
    print(f"\nhostile bytes through nginx: {dict(statuses)}")
    assert all(status < "500" for status in statuses), statuses
    assert after == before, "a worker exited and was replaced"
    head = long_host.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"Content-Security-Policy:" in head and b"X-Content-Type-Options: nosniff" in head


def test_the_quick_lanes_serve_the_public_pages_and_health_through_nginx(cluster, log):
    quick = {host.quick_address for host in cluster.hosts}
    health = [Browser(cluster.port).request("GET", "/healthz") for _ in range(4)]
    assert all(answer.status == 200 for answer in health)
    assert {log.answered_by(answer.request_id) for answer in health} == quick, "both hosts"
    # Kept by nginx once a quick lane has answered it.
    assert Browser(cluster.port).request("GET", "/favicon.ico").status == 200
    # Straight to a quick lane: anything that needs the database is not served there.
    host = cluster.hosts[0]
    assert Browser(host.quick_port).request("GET", "/staff/queue").status == 404
    assert Browser(host.quick_port).request("GET", "/readyz").status == 404
