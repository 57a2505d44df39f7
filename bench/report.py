"""Turns the benchmark's results (a plain dict, also saved as JSON) into Markdown.

docs/performance.md keeps hand-written findings around a generated block; only the text
between the two markers is replaced by a run.
"""

from __future__ import annotations

import math
from statistics import median

from .modules import render as modules_render

START = "<!-- bench:results:start -->"
END = "<!-- bench:results:end -->"

MEMORY_LIMIT_MB = 80.0
# Allowed RSS change between 20,000 and 40,000 requests: allocator noise, not growth.
MEMORY_GROWTH_TOLERANCE_MB = 1.0
STAFF_P95_LIMIT_MS = 25.0

# (app target, bare twin, minimum ratio of requests per second), from issue 6.
RATIO_TARGETS = [
    ("information page, requests/s", "info", "constant", 0.9),
    ("request form GET, requests/s", "form", "constant", 0.5),
    # Issue 17: the Spanish pages (/es/...) hold the same targets.
    ("Spanish information page `/es/`, requests/s", "info_es", "constant", 0.9),
    ("Spanish request form GET, requests/s", "form_es", "constant", 0.5),
    # Issue 28: the whole journey against its bare twin (bench/bare_journey.py). It
    # replaces issue 6's 0.6 of the one-statement insert, which fourteen requests of six
    # steps could never approach (0.02): that row stays in the tables below, for reference.
    ("the journey, journeys/s (PostgreSQL)", "submission", "twin", 0.5),
]
# Issue 28: worker CPU per journey at most this many times the twin's, and a journey at
# most this many times the CPU of as many information pages as it has requests.
JOURNEY_CPU_LIMIT = 2.0
JOURNEY_INFO_CPU_LIMIT = 5.0
JOURNEY_REQUESTS = 14


def ms(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    return f"{seconds * 1000:.1f}"


def us(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e6:.0f}"


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def summarise_rounds(rounds: list[dict[str, dict]], name: str) -> dict | None:
    """Median over rounds of one target's rate, p50 and p99."""
    runs = [r[name] for r in rounds if name in r]
    if not runs:
        return None
    cpus = [r["cpu"] for r in runs if r.get("cpu") is not None]
    return {
        "rate": median(r["rate"] for r in runs),
        "p50": median(r["p50"] for r in runs),
        "p99": median(r["p99"] for r in runs),
        "cpu": median(cpus) if cpus else None,
        "errors": sum(r["errors"] for r in runs),
        "rounds": len(runs),
        "rates": [r["rate"] for r in runs],
    }


def round_ratio(rounds: list[dict[str, dict]], app: str, bare: str, key: str) -> float | None:
    """Median over rounds of app/bare, each ratio taken within one round."""
    ratios = [
        r[app][key] / r[bare][key]
        for r in rounds
        if app in r
        and bare in r
        and r[app].get(key) is not None
        and r[bare].get(key)
        and not math.isnan(r[bare][key])
    ]
    return median(ratios) if ratios else None


def verdict(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[ok]


def public_table(rounds: list[dict[str, dict]], pairs: list[tuple[str, str, str]]) -> list[str]:
    lines = [
        "| target | requests/s | p50 ms | p99 ms | worker CPU µs/req | errors | bare twin "
        "| ratio req/s | ratio p50 | ratio p99 | CPU ratio bare/app |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for label, app, bare in pairs:
        s = summarise_rounds(rounds, app)
        if s is None:
            continue
        twin = summarise_rounds(rounds, bare) if bare else None
        ratios = ["", "", "", ""]
        if twin:
            cpu_ratio = round_ratio(rounds, app, bare, "cpu")
            ratios = [
                fmt_ratio(round_ratio(rounds, app, bare, "rate")),
                fmt_ratio(round_ratio(rounds, app, bare, "p50")),
                fmt_ratio(round_ratio(rounds, app, bare, "p99")),
                fmt_ratio(1 / cpu_ratio if cpu_ratio else None),
            ]
        lines.append(
            f"| {label} | {s['rate']:.0f} | {ms(s['p50'])} | {ms(s['p99'])} | {us(s['cpu'])} "
            f"| {s['errors']} | {bare or ''} | " + " | ".join(ratios) + " |"
        )
    return lines


PUBLIC_ROWS = [
    ("information page `/`", "info", "constant"),
    ("information page, revalidated (If-None-Match)", "info_304", "constant"),
    ("request form GET", "form", "constant"),
    ("Spanish information page `/es/`", "info_es", "constant"),
    ("Spanish request form GET", "form_es", "constant"),
    ("submission (form GET + valid POST, stored)", "submission", "insert"),
    ("submission, the POST alone", "submission_post", "insert"),
    ("the journey against its bare twin", "submission", "twin"),
    ("bare: constant page", "constant", ""),
    ("bare: template of the same size", "template", "constant"),
    ("bare: one-statement insert", "insert", ""),
    ("bare: the journey's twin (six steps, check, send)", "twin", ""),
]


def journey_rows(label: str, rounds: list[dict[str, dict]]) -> list[tuple]:
    """The issue-28 targets on one backend: journeys/s and CPU per journey against the
    twin, and a journey's CPU against 14 information pages, each ratio within a round."""
    rate = round_ratio(rounds, "submission", "twin", "rate")
    cpu = round_ratio(rounds, "submission", "twin", "cpu")
    pages = [
        r["submission"]["cpu"] / (JOURNEY_REQUESTS * r["info"]["cpu"])
        for r in rounds
        if r.get("submission", {}).get("cpu") and r.get("info", {}).get("cpu")
    ]
    info = median(pages) if pages else None
    return [
        (
            f"the journey, journeys/s ({label})",
            "at least 0.5 of bare `twin`",
            fmt_ratio(rate),
            None if rate is None else rate >= 0.5,
        ),
        (
            f"the journey, worker CPU per journey ({label})",
            f"at most {JOURNEY_CPU_LIMIT:.0f}x bare `twin`",
            "n/a" if cpu is None else f"{cpu:.2f}x",
            None if cpu is None else cpu <= JOURNEY_CPU_LIMIT,
        ),
        (
            f"the journey against {JOURNEY_REQUESTS} information pages, worker CPU ({label})",
            f"at most {JOURNEY_INFO_CPU_LIMIT:.0f}x",
            "n/a" if info is None else f"{info:.2f}x",
            None if info is None else info <= JOURNEY_INFO_CPU_LIMIT,
        ),
    ]


def journey_table(label: str, rounds: list[dict[str, dict]]) -> list[str]:
    """Journeys per second and worker CPU per journey, app and twin, round by round."""
    lines = [
        f"| round ({label}) | app journeys/s | twin journeys/s | ratio | app CPU ms/journey "
        "| twin CPU ms/journey | CPU app/twin | 14 information pages, CPU ms "
        "| journey / 14 pages |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for number, r in enumerate(rounds, 1):
        app, twin, info = r.get("submission"), r.get("twin"), r.get("info")
        if not app or not twin:
            continue
        pages = JOURNEY_REQUESTS * info["cpu"] if info and info.get("cpu") else None
        lines.append(
            f"| {number} | {app['rate']:.1f} | {twin['rate']:.1f} "
            f"| {fmt_ratio(app['rate'] / twin['rate'] if twin['rate'] else None)} "
            f"| {ms(app.get('cpu'))} | {ms(twin.get('cpu'))} "
            f"| {fmt_ratio(_div(app.get('cpu'), twin.get('cpu')))} | {ms(pages)} "
            f"| {fmt_ratio(_div(app.get('cpu'), pages))} |"
        )
    return lines


def outside_ratio(rounds: list[dict[str, dict]]) -> float | None:
    """Issue 28's measurement from outside: a journey's worker CPU against 14 information
    pages, each round's ratio, then the median."""
    ratios = [
        r["journey"]["cpu"] / (JOURNEY_REQUESTS * r["info"]["cpu"])
        for r in rounds
        if r.get("journey", {}).get("cpu") and r.get("info", {}).get("cpu")
    ]
    return median(ratios) if ratios else None


def outside_table(rounds: list[dict[str, dict]]) -> list[str]:
    lines = [
        "| round | journeys | CPU ms/journey | information pages | CPU µs/page "
        "| journey / 14 pages |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for number, r in enumerate(rounds, 1):
        journey, info = r.get("journey"), r.get("info")
        if not journey or not info:
            continue
        lines.append(
            f"| {number} | {journey['requests']} | {ms(journey.get('cpu'))} "
            f"| {info['requests']} | {us(info.get('cpu'))} "
            f"| {fmt_ratio(_div(journey.get('cpu'), JOURNEY_REQUESTS * (info.get('cpu') or 0)))} |"
        )
    return lines


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets_table(results: dict) -> list[str]:
    rows = []
    rounds = results.get("public", {}).get("rounds", [])
    for label, app, bare, minimum in RATIO_TARGETS:
        ratio = round_ratio(rounds, app, bare, "rate")
        ok = None if ratio is None else ratio >= minimum
        rows.append((label, f"at least {minimum} of bare `{bare}`", fmt_ratio(ratio), ok))
    rows += journey_rows("PostgreSQL", rounds)[1:]
    sqlite_rounds = results.get("sqlite", {}).get("rounds", [])
    if sqlite_rounds:
        rows += journey_rows("SQLite", sqlite_rounds)

    outside = outside_ratio(results.get("outside", {}).get("rounds", []))
    if outside is not None:
        rows.append(
            (
                f"the journey against {JOURNEY_REQUESTS} information pages, worker CPU, "
                "from outside (`make run`'s configuration, SQLite, the Python client)",
                f"at most {JOURNEY_INFO_CPU_LIMIT:.0f}x",
                f"{outside:.2f}x",
                outside <= JOURNEY_INFO_CPU_LIMIT,
            )
        )

    staff = results.get("staff")
    if staff and staff.get("pages"):
        queue = [p for p in staff["pages"] if p["kind"] == "queue"]
        worst = max((p["p95"] for p in queue), default=None)
        counts = sorted({p["statements"] for p in queue})
        # Fixed: a deep page sends exactly what the first page of its view sends.
        fixed = all(p.get("same_as_first_page", True) for p in queue)
        ok = worst is not None and worst * 1000 < STAFF_P95_LIMIT_MS and fixed
        rows.append(
            (
                "staff queue views at 100,000 requests",
                "p95 < 25 ms, a fixed number of statements per page",
                f"worst p95 {ms(worst)} ms; statements per page {counts}, "
                + ("the same on deep pages" if fixed else "**more on deep pages**"),
                ok,
            )
        )
        detail = [p for p in staff["pages"] if p["kind"] == "detail"]
        worst_detail = max((p["p95"] for p in detail), default=None)
        rows.append(
            (
                "request detail with history and duplicates",
                "p95 < 25 ms",
                f"p95 {ms(worst_detail)} ms",
                None if worst_detail is None else worst_detail * 1000 < STAFF_P95_LIMIT_MS,
            )
        )
    else:
        rows.append(("staff queue views at 100,000 requests", "p95 < 25 ms", "n/a", None))
        rows.append(("request detail with history and duplicates", "p95 < 25 ms", "n/a", None))

    memory = results.get("memory")
    if memory:
        after20, after40 = memory["after_20000"], memory["after_40000"]
        peak = max(after40.values(), default=float("nan"))
        growth = max(
            (after40[pid] - after20[pid] for pid in after40 if pid in after20), default=None
        )
        same_workers = set(after20) == set(after40)
        ok = (
            peak < MEMORY_LIMIT_MB
            and growth is not None
            and growth <= MEMORY_GROWTH_TOLERANCE_MB
            and same_workers
        )
        growth_text = "n/a" if growth is None else f"{growth:+.1f} MB"
        rows.append(
            (
                "worker memory",
                f"< {MEMORY_LIMIT_MB:.0f} MB each, no growth 20k -> 40k",
                f"max {peak:.1f} MB; growth {growth_text}"
                + ("" if same_workers else " (workers were replaced)"),
                ok,
            )
        )
    reval = results.get("revalidation")
    if reval:
        rows.append(
            (
                "revalidation of the information page",
                "304 from ETag/Last-Modified, no rendering",
                f"{reval['status']} ({reval['validator'] or 'no validator'}), "
                f"{reval['body_bytes']} body bytes",
                reval["status"] == 304 and reval["body_bytes"] == 0,
            )
        )
    lines = ["| what | target | measured | verdict |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {verdict(d)} |" for a, b, c, d in rows]
    return lines


def render(results: dict) -> str:
    meta = results["meta"]
    out = [START, ""]
    out.append(
        f"Generated by `{meta['command']}` on {meta['finished_at']} "
        f"({meta['mode']} mode, {meta['wall_seconds']:.0f} s)."
    )
    out.append("")
    out.append("### Machine and versions")
    out.append("")
    for key, value in meta["machine"].items():
        out.append(f"- {key}: {value}")
    out.append("- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    out.append(f"- gunicorn configuration (both apps): {meta['gunicorn']}")
    out.append(f"- load: {meta['load']}")
    out.append("")
    out.append("### Targets")
    out.append("")
    out += targets_table(results)
    out.append("")

    public = results.get("public")
    if public:
        out.append(
            f"### Public side on PostgreSQL ({len(public['rounds'])} interleaved rounds, "
            "medians; ratios are app / bare within each round, then the median)"
        )
        out.append("")
        out += public_table(public["rounds"], PUBLIC_ROWS)
        out.append("")
    sqlite = results.get("sqlite")
    if sqlite:
        out.append(f"### Public side on the SQLite default ({len(sqlite['rounds'])} rounds)")
        out.append("")
        out += public_table(sqlite["rounds"], PUBLIC_ROWS)
        out.append("")
    journeys = [
        (name, part["rounds"])
        for name, part in (("PostgreSQL", public), ("SQLite", sqlite))
        if part and any("twin" in r for r in part["rounds"])
    ]
    if journeys:
        out.append(
            "### The journey against its bare twin, round by round (worker CPU from "
            "/proc, per whole journey of 14 requests)"
        )
        out.append("")
        for name, rounds in journeys:
            out += journey_table(name, rounds)
            out.append("")

    outside = results.get("outside")
    if outside and outside.get("rounds"):
        out.append(
            "### The journey from outside, as issue 28 measures it (`make run`'s "
            "development configuration on SQLite; journeys, then information pages, from the "
            "Python client, a new connection per request; worker CPU from /proc)"
        )
        out.append("")
        out += outside_table(outside["rounds"])
        out.append("")

    staff = results.get("staff")
    out.append("### Staff pages at 100,000 requests (PostgreSQL)")
    out.append("")
    if staff and staff.get("pages"):
        seeded = staff["seed"]
        out.append(
            f"Seeded {seeded['requests']:,} requests ({seeded['open_requests']:,} open; "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(seeded["by_status"].items()))
            + f"), {seeded['referrals']:,} referrals, {seeded['events']:,} history events, "
            f"{seeded['audit_events']:,} audit events, {seeded['staff']} staff, "
            f"in {seeded['seconds']:.0f} s with COPY."
        )
        out.append("")
        out.append("| page | path (PHI-free) | samples | p50 ms | p95 ms | SQL statements |")
        out.append("|---|---|---:|---:|---:|---:|")
        for page in staff["pages"]:
            out.append(
                f"| {page['label']} | `{page['path']}` | {page['samples']} | {ms(page['p50'])} "
                f"| {ms(page['p95'])} | {page['statements']} |"
            )
    else:
        out.append(staff.get("note", "Not measured.") if staff else "Not measured.")
    out.append("")

    memory = results.get("memory")
    if memory:
        out.append("### Worker memory (RSS, MB) under mixed requests")
        out.append("")
        out.append(f"Mix: {memory['mix']}")
        out.append("")
        one, two = f"{memory['step']:,}", f"{2 * memory['step']:,}"
        out.append(
            f"| worker pid | after warm-up | after {one} | after {two} | change {one} -> {two} |"
        )
        out.append("|---|---:|---:|---:|---:|")
        for pid in sorted(set(memory["after_20000"]) | set(memory["after_40000"])):
            a = memory["warm"].get(pid)
            b = memory["after_20000"].get(pid)
            c = memory["after_40000"].get(pid)
            change = f"{c - b:+.1f}" if b is not None and c is not None else "n/a"
            out.append(f"| {pid} | {_mb(a)} | {_mb(b)} | {_mb(c)} | {change} |")
        out.append("")
        pss = memory.get("pss", {}).get("after_40000", {})
        if pss:
            out.append(
                "Proportional set size after the last step (shared library and interpreter "
                "pages split between the processes that map them): "
                + ", ".join(f"{pid}: {value:.1f} MB" for pid, value in sorted(pss.items()))
                + "."
            )
            out.append("")
        out.append(
            f"Errors during the mixed run: {memory['errors']} (statuses: {memory['statuses']})."
        )
        out.append("")
    packages = results.get("modules")
    if packages:
        out.append("### What a worker's memory is made of (`python -m bench.modules`)")
        out.append("")
        out.append(modules_render(packages))
        out.append("")
    out.append(END)
    return "\n".join(out)


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def replace_block(document: str, block: str) -> str:
    """Put the generated block between the markers, or at the end if there are none."""
    if START in document and END in document:
        head, rest = document.split(START, 1)
        _, tail = rest.split(END, 1)
        return head + block + tail
    return document.rstrip("\n") + "\n\n" + block + "\n"
