"""The gunicorn master holds no application code, so a code deploy (``kill -HUP``) gives the
new workers the new code: a module the master imported would be inherited by every worker it
forks, stale (app/__init__.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.databases import ROOT

# What the master loads as gunicorn does: the configuration file, then the worker class.
MASTER = """
import json, sys
from gunicorn.app.wsgiapp import WSGIApplication
sys.argv = ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
application = WSGIApplication()
application.cfg.worker_class
print(json.dumps(sorted(sys.modules)))
"""

# Importing a package runs its __init__; these hold nothing but the worker classes.
ALLOWED = {"app", "app.ops", "app.ops.gunicorn_workers", "app.ops.worker"}


def _modules_in_master(threads: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", MASTER],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GUNICORN_THREADS": threads},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_master_imports_the_worker_class_and_no_application_code():
    for threads in ("1", "4"):
        modules = _modules_in_master(threads)
        ours = {m for m in modules if m == "app" or m.startswith(("app.", "config", "wsgi"))}
        assert ours <= ALLOWED, sorted(ours - ALLOWED)
        worker_module = "app.ops.worker" if threads == "1" else "app.ops.gunicorn_workers"
        assert worker_module in modules, "the check loaded the worker class"
        assert "flask" not in modules and "sqlalchemy" not in modules
