"""`make bench-cluster`: the cluster of `make cluster` (nginx with deploy/nginx.conf, two app
hosts) on this machine.

1. The information page through nginx (kept in nginx's cache, as production serves it)
   against nginx serving a static file of the same size, in the same run, with the same
   configuration: target at least 0.8.
2. The cluster's throughput beside one host's: the form page and submissions (fetch the
   form, post it) through nginx to both hosts, and straight to one host.

    python -m bench.cluster
    BENCH_QUICK=1 python -m bench.cluster   # one short round; docs/performance.md untouched

Settings: BENCH_ROUNDS (3), BENCH_SECONDS (8), BENCH_CONNECTIONS (8), CLUSTER_WORKERS (2 per
host), BENCH_CLUSTER_DATABASE_URL (intake_bench_cluster on the local PostgreSQL; wiped).
Results: the `cluster` block of docs/performance.md, raw JSON in instance/bench/cluster.json.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from deploy.cluster import ROOT, Cluster

from . import load
from .servers import free_port

START = "<!-- bench:cluster:start -->"
END = "<!-- bench:cluster:end -->"
TARGET = 0.8
SAME_SIZE_FILE = "bench-same-size.html"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/intake_bench_cluster"


def log(message: str) -> None:
    print(f"[bench-cluster {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def wipe(url: str) -> None:
    """Drop the bench database's schema: the cluster migrates it again."""
    name = make_url(url).database or ""
    if not name.startswith("intake_bench"):
        raise SystemExit("BENCH_CLUSTER_DATABASE_URL must name a database starting intake_bench")
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as db:
                db.execute(text("DROP SCHEMA public CASCADE"))
                db.execute(text("CREATE SCHEMA public"))
            engine.dispose()
    admin.dispose()


def static_twin(workdir: Path, size: int) -> Path:
    """static/ plus a file exactly the size of the information page."""
    static = workdir / "static"
    shutil.copytree(ROOT / "static", static)
    line = b"<p>The same size as the information page, served by nginx from disk.</p>\n"
    body = (line * (size // len(line) + 1))[:size]
    (static / SAME_SIZE_FILE).write_bytes(body)
    return static


def page_size(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        return len(response.read())


def row(result: load.Result) -> dict:
    return {
        "rate": round(result.rate, 1),
        "p50_ms": round(result.latency(50) * 1000, 2),
        "p99_ms": round(result.latency(99) * 1000, 2),
        "errors": result.errors,
        "requests": result.requests,
    }


def run() -> dict:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    rounds = int(os.environ.get("BENCH_ROUNDS", "1" if quick else "3"))
    seconds = float(os.environ.get("BENCH_SECONDS", "3" if quick else "8"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "8"))
    workers = int(os.environ.get("CLUSTER_WORKERS", "2"))
    database_url = os.environ.get("BENCH_CLUSTER_DATABASE_URL", DEFAULT_DATABASE_URL)
    wipe(database_url)
    # nginx's workers run as nobody when this runs as root: a directory they may enter.
    workdir = Path(tempfile.mkdtemp(prefix="intake-bench-cluster-"))
    workdir.chmod(0o755)
    # The page's size first, from the app itself (one host, briefly, through the cluster
    # machinery), so the twin file can be made before nginx starts.
    cluster = Cluster(
        workdir=workdir,
        port=free_port(),
        host_ports=(free_port(), free_port()),
        database_url=database_url,
        workers=workers,
        key_prefix=f"intake-bench-cluster-{secrets.token_hex(4)}",
        # The form's rate limits far above what the bench sends; the limiter still runs.
        extra_env={"FORM_RATE_LIMIT": "10000000 per hour", "DRAFT_RATE_LIMIT": "10000000 per hour"},
    )
    results: dict = {"rounds": [], "seconds": seconds, "connections": connections}
    try:
        cluster.static_dir = ROOT / "static"
        cluster.start()
        size = page_size(cluster.url + "/")
        cluster.stop()
        cluster.static_dir = static_twin(workdir, size)
        cluster.start(check_deploy=False)
        assert page_size(f"{cluster.url}/static/{SAME_SIZE_FILE}") == size
        results["page_bytes"] = size
        results["workers_per_host"] = workers
        url = cluster.url
        one_host = cluster.hosts[0].port
        log(f"cluster up on {url}; information page {size} bytes; warming up")
        for path in ("/", f"/static/{SAME_SIZE_FILE}", "/request-appointment"):
            load.run_wrk(url + path, duration=1, connections=4)
        load.run_client("app_submission", cluster.port, duration=1, start_n=9_000_000)
        wrk = {"duration": seconds, "connections": connections}
        for n in range(rounds):
            steps = [
                ("info_nginx", lambda: load.run_wrk(url + "/", **wrk)),
                ("static_nginx", lambda: load.run_wrk(f"{url}/static/{SAME_SIZE_FILE}", **wrk)),
                ("form_cluster", lambda: load.run_wrk(url + "/request-appointment", **wrk)),
                (
                    "form_one_host",
                    lambda: load.run_wrk(f"http://127.0.0.1:{one_host}/request-appointment", **wrk),
                ),
                (
                    "submit_cluster",
                    lambda n=n: load.run_client(
                        "app_submission", cluster.port, duration=seconds, start_n=n * 1_000_000
                    ),
                ),
                (
                    "submit_one_host",
                    lambda n=n: load.run_client(
                        "app_submission",
                        one_host,
                        duration=seconds,
                        start_n=n * 1_000_000 + 500_000,
                    ),
                ),
            ]
            # Each round starts at another step, so none always follows the heaviest.
            steps = steps[n % len(steps) :] + steps[: n % len(steps)]
            out = {}
            for name, step in steps:
                out[name] = row(step())
                rate, errors = out[name]["rate"], out[name]["errors"]
                log(f"round {n + 1} {name:<16} {rate:8.1f}/s errors {errors}")
            out["ratio"] = out["info_nginx"]["rate"] / out["static_nginx"]["rate"]
            results["rounds"].append(out)
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results["ratio"] = statistics.median(r["ratio"] for r in results["rounds"])
    results["load_average"] = Path("/proc/loadavg").read_text().split()[:3]
    results["finished"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    return results


def median_of(results: dict, name: str, key: str) -> float:
    return statistics.median(r[name][key] for r in results["rounds"])


def render(results: dict) -> str:
    ratio = results["ratio"]
    verdict = "met" if ratio >= TARGET else "missed"
    lines = [
        START,
        f"Measured {results['finished']} by `make bench-cluster`: {len(results['rounds'])} "
        f"round(s) of {results['seconds']:.0f} s per target, wrk with "
        f"{results['connections']} connections; {results['workers_per_host']} sync workers per "
        f"host; load average at the end {' '.join(results['load_average'])} on 2 cores.",
        "",
        "| target | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "info_nginx": "information page through nginx (kept in nginx's cache)",
        "static_nginx": f"static file of the same size ({results['page_bytes']} bytes) from nginx",
        "form_cluster": "form page, nginx + 2 hosts",
        "form_one_host": "form page, 1 host directly",
        "submit_cluster": "submissions, nginx + 2 hosts",
        "submit_one_host": "submissions, 1 host directly",
    }
    for name, label in labels.items():
        rate, p50, p99 = (median_of(results, name, key) for key in ("rate", "p50_ms", "p99_ms"))
        errors = sum(r[name]["errors"] for r in results["rounds"])
        lines.append(f"| {label} | {rate:.0f} | {p50:.2f} | {p99:.2f} | {errors} |")
    lines += [
        "",
        f"Information page through nginx / static file from nginx: **{ratio:.2f}** "
        f"(median of the per-round ratios; target {TARGET}: {verdict}).",
        "",
        "For submissions the figure is submissions per second (each a new visitor's form "
        "GET and POST), from 4 simulated visitors at a time (bench/load.py).",
        END,
    ]
    return "\n".join(lines)


def replace_block(document: str, block: str) -> str:
    if START in document and END in document:
        head, rest = document.split(START, 1)
        _, tail = rest.split(END, 1)
        return head + block + tail
    return document.rstrip("\n") + "\n\n" + block + "\n"


def main() -> None:
    results = run()
    out_dir = ROOT / "instance" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cluster.json").write_text(json.dumps(results, indent=2) + "\n")
    block = render(results)
    print(block)
    if os.environ.get("BENCH_QUICK", "") in ("", "0"):
        doc = ROOT / "docs" / "performance.md"
        doc.write_text(replace_block(doc.read_text(), block))
        log(f"wrote the cluster block of {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
