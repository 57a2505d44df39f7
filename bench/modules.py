"""What a worker's memory is made of, package by package (issue 28).

    python -m bench.modules            # prints a Markdown table

A fresh interpreter makes the app (the production configuration, on SQLite) and answers
what most workers answer all day: the information page in both languages, a whole
journey sent, and the staff sign-in page. The packages it then holds are imported again,
one by one in the order the app first loaded them, in a second fresh interpreter that
reads its own resident set size (RSS) after each: each row is what that package (and
whatever it pulls in that no earlier row did) adds to every worker. What is left (the
app's own objects, compiled templates, caches, the allocator's arenas) is the last row.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from .servers import ROOT

_SERVE = r"""
import json, sys
from pathlib import Path

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

start = rss()
before = list(sys.modules)
from app import create_app
from bench import load
app = create_app()

class Client:
    def __init__(self, client):
        self.client = client
    def request(self, method, path, body=None, headers=None):
        kw = {"headers": dict(headers or {})}
        if body is not None:
            kw |= {"data": body, "content_type": "application/x-www-form-urlencoded"}
        r = self.client.open(path, method=method, **kw)
        return r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.get_data()

statuses = []
for path in ("/", "/es/", "/request-appointment", "/es/request-appointment", "/staff/login"):
    statuses.append(app.test_client().get(path).status_code)
result = load.Result()
for n in range(20):
    load.app_submission(Client(app.test_client()), n, result)
order = [m for m in sys.modules if m not in before]
print(json.dumps({"statuses": statuses, "errors": result.errors, "order": order,
                  "rss_start": start, "rss_end": rss()}))
"""

_IMPORT = r"""
import importlib, json, sys
from pathlib import Path

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

rows = [("interpreter", rss())]
for name in json.loads(sys.argv[1]):
    before = rss()
    try:
        importlib.import_module(name)
    except Exception as error:
        rows.append((name + " (failed: " + type(error).__name__ + ")", 0.0))
        continue
    rows.append((name, rss() - before))
print(json.dumps({"rows": rows, "rss": rss()}))
"""


def _env(database_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "FLASK_"))},
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "RATELIMIT_KEY_PREFIX": f"intake-modules-{secrets.token_hex(4)}",
        "FORM_RATE_LIMIT": "10000000 per hour",
        "DRAFT_RATE_LIMIT": "10000000 per hour",
        "PYTHONPATH": str(ROOT),
    }


def _top_level(order: list[str]) -> list[str]:
    """Each top-level package once, in the order first loaded, the libraries before the
    app's own code; the app by its areas (``app.public``, ``app.db``...), so that each
    library's row is the library and each area's row is that area's own code."""
    seen: list[str] = []
    for name in order:
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] == "app" else parts[0]
        if parts[0] in ("bench", "__main__", "config") or key in seen:
            continue
        seen.append(key)
    return [n for n in seen if n.split(".")[0] != "app"] + [
        n for n in seen if n.split(".")[0] == "app"
    ]


def measure() -> dict:
    from . import database

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'modules.sqlite3'}"
        database.migrate(url)
        env = _env(url)
        served = subprocess.run(
            [sys.executable, "-c", _SERVE],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        answer = json.loads(served.stdout.strip().splitlines()[-1])
        packages = _top_level(answer["order"])
        imported = subprocess.run(
            [sys.executable, "-c", _IMPORT, json.dumps(packages)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    rows = json.loads(imported.stdout.strip().splitlines()[-1])
    return {
        "statuses": answer["statuses"],
        "errors": answer["errors"],
        "rows": rows["rows"],
        "imports_rss": rows["rss"],
        "serving_rss": answer["rss_end"],
    }


# Why each large package is in every worker (what needs it on the pages most workers
# serve all day); tests/test_lazy_imports.py keeps out those that only a few pages need.
WHY = {
    "interpreter": "Python itself, before any import",
    "app": "the app's own code: `create_app` registers every area's blueprint, and the "
    "models, forms and vocabulary are read by the pages themselves",
    "sqlalchemy": "the database: every step, the check page, the send, every staff page",
    "psycopg": "PostgreSQL's driver (production)",
    "_sqlite3": "SQLite's driver (the default install)",
    "flask": "the framework",
    "werkzeug": "the framework's HTTP layer",
    "jinja2": "every page's template",
    "redis": "the rate limits' counters, checked on every post in production",
    "limits": "the rate limits (Flask-Limiter's storage layer)",
    "flask_limiter": "the rate limits",
    "_ssl": "TLS, imported by redis and http.client (a Redis or SMTP link may use TLS)",
    "ssl": "TLS, as above",
    "holidays": "the business clock: a request's reply-by date on the send, overdue on the queue",
    "prometheus_client": "the metrics every request counts",
    "phonenumbers": "the form's phone checks and the stored E.164 shape",
    "email_validator": "the form's e-mail checks",
    "wtforms": "every form",
    "flask_wtf": "CSRF and the forms",
    "flask_babel": "Spanish: every page's words",
    "babel": "Spanish: the catalogs and dates",
    "argon2": "staff sign-in (small enough to load with the app)",
}


def render(result: dict, *, top: int = 25) -> str:
    rows: dict[str, float] = {}
    for name, mb in result["rows"]:
        # The app's areas in one row: app/__init__ imports them all, so the first holds
        # what the others share and the split between them says nothing.
        key = "app" if name.split(".")[0] == "app" else name
        rows[key] = rows.get(key, 0.0) + mb
    ordered = sorted(rows.items(), key=lambda row: -row[1])
    shown, rest = ordered[:top], ordered[top:]
    lines = ["| package | MB RSS it adds | why every worker loads it |", "|---|---:|---|"]
    lines += [f"| `{name}` | {mb:.1f} | {WHY.get(name, '')} |" for name, mb in shown]
    lines.append(f"| {len(rest)} smaller packages | {sum(mb for _, mb in rest):.1f} | |")
    lines.append(
        "| the app made and serving (objects, templates, caches, allocator) "
        f"| {result['serving_rss'] - result['imports_rss']:.1f} | |"
    )
    lines.append(f"| **one process after serving** | **{result['serving_rss']:.1f}** | |")
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = measure()
    print(render(outcome))
    print(f"\nstatuses {outcome['statuses']}, journey errors {outcome['errors']}")
