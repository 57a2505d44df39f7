"""Libraries only a few requests need are imported on first use, not by every worker at
start: each takes megabytes in every gunicorn worker (docs/performance.md, worker memory).

A fresh interpreter (this test process has long imported them all) makes the app and
answers the pages most workers serve all day; none of these may be loaded after that."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each costs a worker, and who needs it: app/accounts/passkeys.py (webauthn, with
# cryptography's OpenSSL bindings, pyasn1 and cbor2 under it), app/accounts/password_rules.py
# (zxcvbn), app/accounts/second_factor.py (segno). The FHIR export loads no model library
# at all (its R4 models are the tests', tests/fhir/r4.py). app/auth/provider.py (authlib,
# joserfc) only with OIDC_ISSUER set.
HEAVY = ("webauthn", "OpenSSL", "pyasn1", "cbor2", "zxcvbn", "segno", "authlib", "joserfc")

_SCRIPT = """
import json, sys
from app import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "lazy-imports-test"})
client = app.test_client()
statuses = [client.get(path).status_code for path in ("/", "/request-appointment", "/staff/login")]
print(json.dumps({"statuses": statuses, "modules": sorted(sys.modules)}))
"""


def test_making_the_app_and_serving_public_pages_imports_no_heavy_library(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "APP_ENV")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, f"sqlite:///{tmp_path / 'lazy.sqlite3'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["statuses"] == [200, 200, 200]
    loaded = set(answer["modules"])
    assert [name for name in HEAVY if name in loaded] == []


def test_the_heavy_libraries_are_installed_so_the_check_above_means_something():
    for name in HEAVY:
        __import__(name)
