"""`make bench`: the app against bare Flask on the same gunicorn, on this machine.

    python -m bench.run            # the full run (about 10-15 minutes), writes docs/performance.md
    BENCH_QUICK=1 python -m bench.run   # a ~3-minute sanity run, writes instance/bench/quick.md

Settings (environment): BENCH_DATABASE_URL (default intake_bench on the local PostgreSQL;
the database is wiped), BENCH_ROUNDS, BENCH_SECONDS (per target per round), BENCH_SEED_COUNT,
BENCH_MIXED (requests per memory step), BENCH_CONNECTIONS (wrk), BENCH_OUT, BENCH_PHASES
(some of public,staff,memory,modules,sqlite,outside), BENCH_TARGETS (some of a round's targets, e.g.
"info,submission,twin" for the journey against its twin alone).
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from . import database, load, modules, report, seed, staff
from .servers import ROOT, Server, pss_mb, rss_mb

LOG_DIR = ROOT / "instance" / "bench"
PHASES = ("public", "staff", "memory", "modules", "sqlite", "outside")


@dataclass(frozen=True)
class Settings:
    quick: bool
    rounds: int
    seconds: float
    seed_count: int
    mixed_step: int
    staff_samples: int
    connections: int
    database_url: str
    out: Path
    phases: frozenset[str]
    # Only these targets of a public round (empty: all), e.g. "info,submission,twin".
    targets: frozenset[str]

    @classmethod
    def from_env(cls) -> Settings:
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
        env = os.environ.get
        return cls(
            quick=quick,
            rounds=int(env("BENCH_ROUNDS", "1" if quick else "3")),
            seconds=float(env("BENCH_SECONDS", "3" if quick else "8")),
            seed_count=int(env("BENCH_SEED_COUNT", "20000" if quick else "100000")),
            mixed_step=int(env("BENCH_MIXED", "2000" if quick else "20000")),
            staff_samples=int(env("BENCH_STAFF_SAMPLES", "30" if quick else "200")),
            connections=int(env("BENCH_CONNECTIONS", "8")),
            database_url=env("BENCH_DATABASE_URL", database.DEFAULT_URL),
            out=Path(
                env("BENCH_OUT", str(LOG_DIR / "quick.md" if quick else "docs/performance.md"))
            ),
            phases=frozenset(env("BENCH_PHASES", ",".join(PHASES)).split(",")),
            targets=frozenset(t for t in env("BENCH_TARGETS", "").split(",") if t),
        )


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def as_row(result: load.Result, *, post_only: bool = False) -> dict:
    rate = result.rate
    return {
        "rate": rate,
        "p50": result.latency(50, post_only=post_only),
        "p95": result.latency(95, post_only=post_only),
        "p99": result.latency(99, post_only=post_only),
        "errors": result.errors,
        "requests": result.requests,
        "statuses": result.statuses,
    }


RUN_ID = secrets.token_hex(4)
# Every server the bench starts (production_env says why).
NO_RECYCLING = {"GUNICORN_MAX_REQUESTS": "0"}


def production_env(database_url: str) -> dict[str, str]:
    """The production configuration, as docs/production.md sets it, with three changes a
    load test needs: the form's rate limit is raised far above what the bench sends (the
    limiter still runs, counting in Redis, so its cost is measured), the counters get a
    key prefix of this run's own, and gunicorn does not recycle its workers. A recycled
    worker imports and warms the app again (about a second and a half of CPU, once per
    20,000 requests in production); the information page's 50,000 requests a target made
    every worker restart about every other round, and that cost, with the new workers'
    first requests, was charged to whichever target ran then: the journey right after it
    cost a tenth more (docs/performance.md)."""
    return {
        **NO_RECYCLING,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "RATELIMIT_KEY_PREFIX": f"intake-bench-{RUN_ID}",
        "FORM_RATE_LIMIT": "10000000 per hour",
        "DRAFT_RATE_LIMIT": "10000000 per hour",
        "SIGNIN_RATE_LIMIT": "10000000 per hour",
    }


def revalidation(port: int) -> dict:
    """Fetch `/`, then ask again with its validators: a 304 with no body is the target."""
    browser = load.Browser("127.0.0.1", port)
    status, headers, _ = browser.request("GET", "/")
    etag, modified = headers.get("etag"), headers.get("last-modified")
    conditional = {}
    if etag:
        conditional["If-None-Match"] = etag
    if modified:
        conditional["If-Modified-Since"] = modified
    status, _, body = browser.request("GET", "/", headers=conditional)
    return {
        "status": status,
        "validator": ", ".join(k for k in ("ETag", "Last-Modified") if headers.get(k.lower())),
        "body_bytes": len(body),
        "headers": conditional,
    }


def public_round(
    settings: Settings, app: Server, bare: Server, conditional: dict, n_base: int
) -> dict[str, dict]:
    """One round: every target in turn. Each round starts at a different target so that
    no target always runs just after the heaviest one."""
    url = "http://127.0.0.1:{}{}".format
    wrk = dict(duration=settings.seconds, connections=settings.connections)
    seconds = settings.seconds
    steps = [
        ("info", app, lambda: load.run_wrk(url(app.port, "/"), **wrk)),
        ("constant", bare, lambda: load.run_wrk(url(bare.port, "/constant"), **wrk)),
        ("form", app, lambda: load.run_wrk(url(app.port, "/request-appointment"), **wrk)),
        ("info_es", app, lambda: load.run_wrk(url(app.port, "/es/"), **wrk)),
        ("form_es", app, lambda: load.run_wrk(url(app.port, "/es/request-appointment"), **wrk)),
        ("template", bare, lambda: load.run_wrk(url(bare.port, "/template"), **wrk)),
        (
            "submission",
            app,
            lambda: load.run_client("app_submission", app.port, duration=seconds, start_n=n_base),
        ),
        (
            "insert",
            bare,
            lambda: load.run_client("bare_insert", bare.port, duration=seconds, start_n=n_base),
        ),
        (
            "twin",
            bare,
            lambda: load.run_client("bare_journey", bare.port, duration=seconds, start_n=n_base),
        ),
    ]
    if conditional:
        steps.insert(
            1,
            (
                "info_304",
                app,
                lambda: load.run_wrk(url(app.port, "/"), headers=conditional, **wrk),
            ),
        )
    if settings.targets:
        steps = [step for step in steps if step[0] in settings.targets]
    shift = (n_base // 1_000_000) % len(steps)
    steps = steps[shift:] + steps[:shift]
    out: dict[str, dict] = {}
    for name, server, step in steps:
        cpu_before = server.cpu_seconds()
        result = step()
        out[name] = as_row(result)
        cpu = (server.cpu_seconds() - cpu_before) / result.requests if result.requests else None
        out[name]["cpu"] = cpu
        if name == "submission":
            out["submission_post"] = as_row(result, post_only=True) | {"cpu": cpu}
        log(
            f"  {name:<11} {result.rate:8.1f}/s  p50 {report.ms(out[name]['p50'])} ms  "
            f"p99 {report.ms(out[name]['p99'])} ms  cpu {report.us(cpu)} us/req  "
            f"errors {result.errors}"
        )
    return out


def warm_up(app: Server, bare: Server) -> None:
    pages = (
        (app.port, "/"),
        (app.port, "/request-appointment"),
        (app.port, "/es/"),
        (app.port, "/es/request-appointment"),
        (bare.port, "/template"),
    )
    for port, path in pages:
        load.run_wrk(f"http://127.0.0.1:{port}{path}", duration=1, connections=4)
    load.run_client("app_submission", app.port, duration=1, start_n=9_000_000)
    load.run_client("bare_insert", bare.port, duration=1, start_n=9_000_000)
    load.run_client("bare_journey", bare.port, duration=1, start_n=9_000_000)


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(
        int(ln.split()[1])
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"') + f" (kernel {platform.release()})"
    except OSError:
        pass
    return {
        "CPU": f"{cpu}, {os.cpu_count()} cores (shared with the load generators)",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "OS": os_name,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def versions(database_url: str) -> dict[str, str]:
    out = {"Python": platform.python_version()}
    for dist in (
        "Flask",
        "Werkzeug",
        "Jinja2",
        "WTForms",
        "Flask-WTF",
        "SQLAlchemy",
        "psycopg",
        "gunicorn",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    out["PostgreSQL"] = database.server_version(database_url)
    out["SQLite"] = sqlite3.sqlite_version
    if shutil.which("wrk") is None:
        out["wrk"] = "absent (pages loaded by the Python client)"
        return out
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    out["wrk"] = (wrk.stdout or wrk.stderr).split()[1] if (wrk.stdout or wrk.stderr) else "?"
    return out


def gunicorn_config() -> str:
    """The settings that shape throughput, as gunicorn itself resolves them."""
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    out = subprocess.run(
        [gunicorn, "-c", "gunicorn.conf.py", "--print-config", "wsgi:app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # As the bench runs both apps: production's settings, workers not recycled.
        env={**os.environ, "APP_ENV": "development", **NO_RECYCLING},
    ).stdout
    wanted = (
        "workers",
        "worker_class",
        "threads",
        "timeout",
        "keepalive",
        "max_requests",
        "max_requests_jitter",
        "preload_app",
        "accesslog",
    )
    found = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in wanted:
            found[key.strip()] = value.strip()
    return ", ".join(f"{k}={found[k]}" for k in wanted if k in found) or "gunicorn.conf.py"


def sqlite_phase(settings: Settings, n_base: int) -> dict:
    """On the SQLite default (as many rounds as on PostgreSQL): the app and the bare app
    each on their own file."""
    path, bare_path = LOG_DIR / "bench.sqlite3", LOG_DIR / "bare.sqlite3"
    for db in (path, bare_path):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        database.migrate(f"sqlite:///{db}")
    url = f"sqlite:///{path}"
    env = production_env(url)
    app = Server("app-sqlite", "wsgi:app", env, LOG_DIR).start("/")
    bare_env = env | {"DATABASE_URL": f"sqlite:///{bare_path}"}
    bare = Server("bare-sqlite", "bench.bare_app:create_app()", bare_env, LOG_DIR)
    bare.start("/constant")
    try:
        warm_up(app, bare)
        rounds = []
        for number in range(settings.rounds):
            log(f"SQLite round {number + 1} of {settings.rounds}")
            rounds.append(public_round(settings, app, bare, {}, n_base + number * 1_000_000))
        return {"rounds": rounds}
    finally:
        app.stop()
        bare.stop()


def outside_phase(settings: Settings) -> dict:
    """Issue 28's own measurement, from outside: the app as ``make run`` serves it (the
    development configuration on a SQLite file, with the form's limits raised as
    everywhere in the bench), whole journeys from the Python client, then the
    information page from the same client (a new connection per request, as a
    browser's first visit), and the workers' CPU for each. Rounds alternate which goes
    first."""
    path = LOG_DIR / "outside.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    database.migrate(url)
    production = production_env(url)
    env = {
        key: production[key]
        for key in ("GUNICORN_MAX_REQUESTS", "FORM_RATE_LIMIT", "DRAFT_RATE_LIMIT")
    } | {"APP_ENV": "development", "DATABASE_URL": url}
    app = Server("app-outside", "wsgi:app", env, LOG_DIR).start("/")
    info_url = f"http://127.0.0.1:{app.port}/"
    rounds = []
    try:
        load.run_client("app_submission", app.port, duration=1, start_n=70_000_000)
        for number in range(settings.rounds):
            log(f"from outside, round {number + 1} of {settings.rounds}")
            measured: dict[str, dict] = {}
            order = ("journey", "info") if number % 2 == 0 else ("info", "journey")
            for name in order:
                before = app.cpu_seconds()
                if name == "journey":
                    start_n = 71_000_000 + number * 100_000
                    result = load.run_client(
                        "app_submission", app.port, duration=settings.seconds, start_n=start_n
                    )
                else:
                    result = load.run_gets(info_url, duration=settings.seconds, connections=4)
                cpu = (app.cpu_seconds() - before) / result.requests if result.requests else None
                measured[name] = as_row(result) | {"cpu": cpu}
                log(f"  {name:<11} {result.rate:8.1f}/s  cpu {report.us(cpu)} us/req")
            rounds.append(measured)
    finally:
        app.stop()
    return {"rounds": rounds}


def memory_phase(settings: Settings, staff_cookie: dict | None, staff_paths: list[str]) -> dict:
    """RSS of each worker after two steps of mixed requests (20,000 each in a full run, as
    the report's keys say; BENCH_MIXED sets the step), on a server of its own
    with worker recycling (max_requests) off: recycling would hide a leak, not cure it."""
    log(f"memory: {settings.mixed_step:,} mixed requests, twice")
    # Workers are not recycled (production_env): recycling would hide growth, not show it.
    env = production_env(settings.database_url)
    app = Server("app-memory", "wsgi:app", env, LOG_DIR).start("/")
    try:
        browser = (
            staff.sign_in(app.port, settings.database_url) if staff_cookie is not None else None
        )
        cookie = dict(browser.cookies) if browser else None
        load.run_mixed(app.port, total=500, start_n=19_000_000)
        warm = {str(pid): rss_mb(pid) for pid in app.worker_pids()}
        snapshots, pss = {}, {}
        total = load.Result()
        for step, label in enumerate(("after_20000", "after_40000")):
            result = load.run_mixed(
                app.port,
                total=settings.mixed_step,
                start_n=20_000_000 + step * 1_000_000,
                staff_cookie=cookie,
                staff_paths=staff_paths if cookie else None,
            )
            total.merge(result)
            snapshots[label] = {str(pid): rss_mb(pid) for pid in app.worker_pids()}
            pss[label] = {str(pid): pss_mb(pid) for pid in app.worker_pids()}
            done = (step + 1) * settings.mixed_step
            log(
                f"  after {done:,}: RSS {snapshots[label]} MB, PSS {pss[label]}, "
                f"{result.errors} errors"
            )
    finally:
        app.stop()
    return {
        "warm": warm,
        **snapshots,
        "pss": pss,
        "step": settings.mixed_step,
        "errors": total.errors,
        "statuses": total.statuses,
        "mix": load.mixed_description(staff=bool(staff_cookie)),
    }


def main() -> int:
    settings = Settings.from_env()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    meta = {"machine": machine(), "mode": "quick" if settings.quick else "full"}
    command = "make bench-quick" if settings.quick else "make bench"

    log(
        f"database {settings.database_url.rsplit('/', 1)[-1]}: recreate and seed "
        f"{settings.seed_count:,} requests"
    )
    database.recreate_postgres(settings.database_url)
    t0 = time.monotonic()
    summary = seed.seed(
        settings.database_url,
        count=settings.seed_count,
        password_hash=staff.password_hash(seed.STAFF_PASSWORD),
    )
    seed_info = {**summary.__dict__, "seconds": time.monotonic() - t0}
    log(f"seeded in {seed_info['seconds']:.0f} s: {summary.by_status}")

    env = production_env(settings.database_url)
    app = Server("app", "wsgi:app", env, LOG_DIR).start("/")
    bare = Server("bare", "bench.bare_app:create_app()", env, LOG_DIR).start("/constant")
    results: dict = {}
    try:
        warm_up(app, bare)
        results["revalidation"] = revalidation(app.port)
        log(f"revalidation: {results['revalidation']}")
        conditional = results["revalidation"]["headers"]
        if "public" in settings.phases:
            rounds = []
            for number in range(settings.rounds):
                log(f"public round {number + 1} of {settings.rounds}")
                n_base = (number + 1) * 1_000_000
                rounds.append(public_round(settings, app, bare, conditional, n_base))
            results["public"] = {"rounds": rounds}

        staff_cookie, staff_paths = None, []
        if "staff" in settings.phases:
            log("staff pages")
            try:
                results["staff"] = staff.measure(
                    app.port, settings.database_url, summary, samples=settings.staff_samples
                )
            except Exception as error:  # the rest of the run is still worth writing down
                log(f"staff pages failed: {error!r}")
                results["staff"] = {"note": f"The staff measurement failed: {error!r}."}
            results["staff"]["seed"] = seed_info
            staff_cookie = results["staff"].pop("cookie", None)
            staff_paths = results["staff"].pop("memory_paths", [])
            for page in results["staff"].get("pages", []):
                log(
                    f"  {page['label']:<55} p50 {report.ms(page['p50'])} ms  "
                    f"p95 {report.ms(page['p95'])} ms  statements {page['statements']}"
                )
        worker_count = len(app.worker_pids())
    finally:
        app.stop()
        bare.stop()

    if "memory" in settings.phases:
        try:
            results["memory"] = memory_phase(settings, staff_cookie, staff_paths)
        except Exception as error:
            log(f"memory phase failed: {error!r}")
    if "modules" in settings.phases:
        log("memory, package by package")
        try:
            results["modules"] = modules.measure()
        except Exception as error:
            log(f"package measurement failed: {error!r}")

    if "sqlite" in settings.phases:
        results["sqlite"] = sqlite_phase(settings, 50_000_000)
    if "outside" in settings.phases:
        results["outside"] = outside_phase(settings)

    meta |= {
        "command": command,
        "finished_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "wall_seconds": time.monotonic() - started,
        "versions": versions(settings.database_url),
        "gunicorn": gunicorn_config() + f" (running: {worker_count} workers)",
        "load": (
            f"wrk -t2 -c{settings.connections}, {settings.seconds:.0f} s per target per round; "
            "submissions from a Python client, 2 processes x 2 threads, a new visitor per "
            "submission"
        ),
    }
    results["meta"] = meta
    (LOG_DIR / "results.json").write_text(json.dumps(results, indent=2, default=str))
    block = report.render(results)
    existing = settings.out.read_text() if settings.out.exists() else ""
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    settings.out.write_text(report.replace_block(existing, block))
    print(block)
    log(f"wrote {settings.out} in {meta['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
