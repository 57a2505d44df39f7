"""Load generators: wrk for plain pages, a Python client for what wrk cannot do.

The Python client behaves like a browser filling in the form: each submission is a new
visitor who fetches the form (getting the session cookie, the CSRF token and the one-time
form token) and posts a valid request that differs from every other one. It runs in
several processes so that the client's own GIL is not what limits the rate.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.requests.fields import STEPS, step_form_fields

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_report.lua"

# What a browser says of a post from the site's own page.
_SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
_FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')

FIRST = ["Maria", "Ana", "Linda", "Keisha", "Mei", "Priya", "Siobhan", "Renée", "Olga", "Nia"]
LAST = ["Santos-Ortiz", "O'Neil", "Nguyen", "Okafor", "Kowalski", "Müller", "Reyes", "Chen"]
AREA = ["813", "727", "941", "352", "407"]


@dataclass
class Result:
    """One run of one target: counts, wall time and every latency (seconds)."""

    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    # For submissions: the POST alone, without the form fetch.
    post_latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    # wrk keeps a histogram rather than every sample: its percentiles, when it ran.
    fixed_percentiles: dict[float, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def latency(self, pct: float, *, post_only: bool = False) -> float:
        if pct in self.fixed_percentiles:
            return self.fixed_percentiles[pct]
        return percentile(self.post_latencies if post_only else self.latencies, pct)

    def merge(self, other: Result) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.elapsed = max(self.elapsed, other.elapsed)
        self.latencies += other.latencies
        self.post_latencies += other.post_latencies
        for key, value in other.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + value


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


# -- wrk ---------------------------------------------------------------------------------


def run_wrk(
    url: str,
    *,
    duration: float,
    connections: int = 8,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> Result:
    """wrk for ``duration`` seconds; p50/p99 come from its own histogram. Without wrk on
    the machine, a Python client instead (fewer requests a second, the same worker CPU
    per request)."""
    if shutil.which("wrk") is None:
        return run_gets(url, duration=duration, connections=connections, headers=headers)
    cmd = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
    ]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    result = Result(
        requests=data["requests"],
        errors=sum(v for k, v in data.items() if k.startswith("errors_")),
        elapsed=data["duration_us"] / 1e6,
        fixed_percentiles={50: data["p50_us"] / 1e6, 99: data["p99_us"] / 1e6},
    )
    return result


def run_gets(
    url: str, *, duration: float, connections: int = 8, headers: dict[str, str] | None = None
) -> Result:
    """GET ``url`` from ``connections`` threads for ``duration`` seconds."""
    parts = urllib.parse.urlsplit(url)
    results = [Result() for _ in range(connections)]
    started = time.perf_counter()
    deadline = started + duration

    def loop(index: int) -> None:
        result = results[index]
        while time.perf_counter() < deadline:
            before = time.perf_counter()
            browser = Browser(parts.hostname or "127.0.0.1", parts.port or 80)
            status, _, _ = browser.request("GET", parts.path or "/", headers=headers)
            result.latencies.append(time.perf_counter() - before)
            result.requests += 1
            if status not in (200, 304):
                result.errors += 1

    return _run_threads(loop, results, started)


# -- the Python client -------------------------------------------------------------------


class Browser:
    """A minimal browser: one cookie jar, a new TCP connection per request (gunicorn's sync
    workers close the connection after each response anyway)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    pair = value.split(";", 1)[0]
                    key, _, val = pair.partition("=")
                    self.cookies[key.strip()] = val.strip()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()


def answers(n: int) -> dict[str, str | list[str]]:
    """A valid request, different from every other n (name, date of birth, email, phone)."""
    a = {
        "submitter": "patient",
        "first_name": FIRST[n % len(FIRST)],
        "last_name": LAST[(n // len(FIRST)) % len(LAST)],
        "dob_month": str(n % 12 + 1),
        "dob_day": str(n % 28 + 1),
        "dob_year": str(1940 + n % 50),
        "sex": "female",
        "email": f"bench.{n}@example.com",
        "phone": f"({AREA[n % len(AREA)]}) 555-{100 + n % 100:04d}",
        "contact_method": "phone",
        "best_time_to_call": "morning",
        "state": "FL",
        "zip_code": "33612",
        "language": "english",
        "interpreter_needed": "no",
        "diagnosed_metastatic": "yes",
        "metastasis_sites": ["bones", "liver"],
        "in_treatment": "yes",
        "insurance_type": "commercial",
        "insurance_carrier": "Florida Blue",
        "has_referral": "no",
        "message": "Please call after 10 in the morning." if n % 3 == 0 else "",
        "consent": "y",
    }
    if n % 4 == 1:
        a |= {
            "submitter": "someone_else",
            "submitter_name": "Rosa Santos",
            "submitter_relationship": "daughter",
            "submitter_phone": "(813) 555-0150",
            "call_first": "caregiver",
        }
    if n % 5 < 2:
        a |= {
            "has_referral": "yes",
            "physician_name": "Dr. Alan O'Neil",
            "physician_phone": "727-555-0142",
            "physician_practice": "Bayside Oncology",
            "physician_fax": "727 555 0199",
            "physician_email": "oneil@bayside.example",
            "physician_npi": "1234567893",
        }
    return a


def encode(data: dict) -> str:
    return urllib.parse.urlencode(data, doseq=True)


def _follow(browser: Browser, reply: tuple[int, dict[str, str], bytes]):
    while reply[0] in (302, 303):
        parts = urllib.parse.urlsplit(reply[1].get("location", ""))
        reply = browser.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
    return reply


def app_submission(browser: Browser, n: int, result: Result) -> None:
    """A request through the journey as a browser sends it: the first page, each step
    posted and its next page fetched, then the send from "Check your answers" (the send
    alone is the "post" latency). The first page carries no CSRF token (its post is
    checked by the browser's Origin, as a same-origin browser sends it); every later one
    does."""
    _journey(browser, n, result, first="/request-appointment", prefix="/request-appointment")


def bare_journey(browser: Browser, n: int, result: Result) -> None:
    """The same journey, the same answers, through the bare twin (bench/bare_journey.py)."""
    _journey(browser, n, result, first="/journey/who", prefix="/journey")


def _journey(browser: Browser, n: int, result: Result, *, first: str, prefix: str) -> None:
    start = time.perf_counter()
    status, headers, body = _follow(browser, browser.request("GET", first))
    data = answers(n)
    for step in STEPS:
        html = body.decode()
        csrf = _CSRF.search(html)
        if status != 200 or not (csrf or step == STEPS[0]):
            result.errors += 1
            result.statuses[f"step {status}"] = result.statuses.get(f"step {status}", 0) + 1
            return
        posted = {k: data[k] for k in step_form_fields(step) if k in data}
        if csrf:
            posted["csrf_token"] = csrf.group(1)
        sent = browser.request(
            "POST", f"{prefix}/{step.value}", encode(posted), headers=_SAME_ORIGIN
        )
        status, headers, body = _follow(browser, sent)
    html = body.decode()
    csrf, token = _CSRF.search(html), _FORM_TOKEN.search(html)
    if status != 200 or not csrf or not token:
        result.errors += 1
        result.statuses[f"check {status}"] = result.statuses.get(f"check {status}", 0) + 1
        return
    post_start = time.perf_counter()
    send = encode({"csrf_token": csrf.group(1), "form_token": token.group(1)})
    status, headers, _ = browser.request("POST", f"{prefix}/check", send)
    done = time.perf_counter()
    ok = status == 303 and "/received/" in headers.get("location", "")
    key = f"post {status}"
    result.statuses[key] = result.statuses.get(key, 0) + 1
    if not ok:
        result.errors += 1
        return
    result.requests += 1
    result.latencies.append(done - start)
    result.post_latencies.append(done - post_start)


def bare_insert(browser: Browser, n: int, result: Result) -> None:
    """The bare twin: post the same fields to a one-statement insert."""
    data = answers(n) | {"form_token": f"bare-{n}-{time.monotonic_ns()}"}
    start = time.perf_counter()
    status, _, _ = browser.request("POST", "/insert", encode(data))
    done = time.perf_counter()
    key = f"post {status}"
    result.statuses[key] = result.statuses.get(key, 0) + 1
    if status != 303:
        result.errors += 1
        return
    result.requests += 1
    result.latencies.append(done - start)
    result.post_latencies.append(done - start)


ACTIONS: dict[str, Callable[[Browser, int, Result], None]] = {
    "app_submission": app_submission,
    "bare_journey": bare_journey,
    "bare_insert": bare_insert,
}


def _run_threads(loop, results: list[Result], started: float) -> Result:
    """Run ``loop(i)`` on one thread per result and add the results up."""
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(len(results))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = Result()
    for result in results:
        total.merge(result)
    # Until the last request in flight at the end has finished.
    total.elapsed = time.perf_counter() - started
    return total


def _process_main(args: tuple) -> Result:
    action_name, host, port, duration, threads, first_n, stride = args
    action = ACTIONS[action_name]
    results = [Result() for _ in range(threads)]
    started = time.perf_counter()
    deadline = started + duration

    def loop(index: int) -> None:
        n = first_n + index
        while time.perf_counter() < deadline:
            action(Browser(host, port), n, results[index])
            n += stride

    return _run_threads(loop, results, started)


def run_client(
    action: str,
    port: int,
    *,
    duration: float,
    processes: int = 2,
    threads: int = 2,
    start_n: int = 0,
    host: str = "127.0.0.1",
) -> Result:
    """Run ``action`` from processes x threads simulated visitors for ``duration`` seconds."""
    stride = processes * threads
    tasks = [
        (action, host, port, duration, threads, start_n + p * threads, stride)
        for p in range(processes)
    ]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        parts = list(pool.map(_process_main, tasks))
    total = Result()
    for part in parts:
        total.merge(part)
    return total


# -- mixed traffic, for the memory measurement --------------------------------------------

# One cycle of a visitor mix: mostly reading, some revalidating, some filling in the form.
# Staff paths (queue, search, detail) join the mix when a signed-in cookie is given.
_PUBLIC_MIX = (
    ["info"] * 7
    + ["info_conditional"] * 3
    + ["form"] * 3
    + ["submit"] * 2
    + ["static"]
    + ["not_found"]
)


# HTTP requests in one submission: the first page, each step posted and the next page
# fetched, then the send.
SUBMISSION_REQUESTS = 2 + 2 * len(STEPS)


def mixed_description(*, staff: bool) -> str:
    total = 16 + 2 * SUBMISSION_REQUESTS
    parts = (
        f"per {total} requests: 7 information page, 3 revalidations of it, 3 form GETs, "
        f"2 submissions (the first page, {len(STEPS)} steps posted and the next page fetched, "
        f"and the send = {SUBMISSION_REQUESTS} requests each), 1 stylesheet, "
        "1 unknown URL (404)"
    )
    if staff:
        parts += (
            "; plus, per cycle, 3 signed-in staff pages (the queue, a page 50,000 rows "
            "deep, a request page)"
        )
    return parts


def _mixed_process(args: tuple) -> Result:
    host, port, quota, threads, first_n, stride, staff_cookie, staff_paths = args
    results = [Result() for _ in range(threads)]
    started = time.perf_counter()

    def get(browser: Browser, path: str, result: Result, headers=None, ok=(200,)) -> dict:
        status, response_headers, _ = browser.request("GET", path, headers=headers)
        result.requests += 1
        key = f"{path.split('?')[0][:24]} {status}"
        result.statuses[key] = result.statuses.get(key, 0) + 1
        if status not in ok:
            result.errors += 1
        return response_headers

    def loop(index: int) -> None:
        result = results[index]
        n = first_n + index
        etag = None
        staff_browser = Browser(host, port)
        if staff_cookie:
            staff_browser.cookies.update(staff_cookie)
        step = 0
        while result.requests < quota:
            kind = _PUBLIC_MIX[step % len(_PUBLIC_MIX)]
            browser = Browser(host, port)
            if kind == "info":
                etag = get(browser, "/", result).get("etag", etag)
            elif kind == "info_conditional":
                headers = {"If-None-Match": etag} if etag else None
                get(browser, "/", result, headers=headers, ok=(200, 304))
            elif kind == "form":
                get(browser, "/request-appointment", result)
            elif kind == "submit":
                before = result.requests
                app_submission(browser, n, result)
                n += stride
                # app_submission counts a submission as one; it was this many HTTP requests.
                result.requests = before + SUBMISSION_REQUESTS
            elif kind == "static":
                get(browser, "/static/css/site.css", result)
            else:
                get(browser, "/no-such-page", result, ok=(404,))
            if staff_paths and step % len(_PUBLIC_MIX) == 0:
                for path in staff_paths:
                    get(staff_browser, path, result)
            step += 1

    return _run_threads(loop, results, started)


def run_mixed(
    port: int,
    *,
    total: int,
    start_n: int = 0,
    processes: int = 2,
    threads: int = 2,
    staff_cookie: dict | None = None,
    staff_paths: list[str] | None = None,
    host: str = "127.0.0.1",
) -> Result:
    """About ``total`` requests of the mix, then stop (a bounded run, not a timed one)."""
    quota = max(1, total // (processes * threads))
    stride = processes * threads
    tasks = [
        (host, port, quota, threads, start_n + p * threads, stride, staff_cookie, staff_paths)
        for p in range(processes)
    ]
    with ProcessPoolExecutor(max_workers=processes) as pool:
        parts = list(pool.map(_mixed_process, tasks))
    out = Result()
    for part in parts:
        out.merge(part)
    return out
