"""Rate limits on the form's POST and on sign-in, per client address (in-process; the
shared-counter test against gunicorn and Redis is in test_servers.py)."""

import json
import subprocess
import sys

import pytest
from flask import Blueprint, Flask

from app.serving import limits
from tests.conftest import count_rows, make_test_app
from tests.support.forms import FORM_URL, SEND_URL, begin, submit
from tests.support.servers import ROOT, free_port


@pytest.fixture
def app_overrides():
    return {"FORM_RATE_LIMIT": "3 per hour", "TRUSTED_PROXY_COUNT": 1}


def post_from(client, address: str):
    """A send with nothing filled in: sent back to the first step, but an attempt all the
    same."""
    csrf = begin(client)
    return client.post(SEND_URL, data={"csrf_token": csrf}, headers={"X-Forwarded-For": address})


def test_the_form_post_is_limited_per_client_address(client):
    statuses = [post_from(client, "203.0.113.7").status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert post_from(client, "203.0.113.8").status_code == 303, "another address is not limited"
    # Reading the form is never limited.
    assert client.get(FORM_URL, headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 200


def test_the_limit_answer_is_the_sites_429_page(client):
    for _ in range(3):
        post_from(client, "203.0.113.9")
    response = post_from(client, "203.0.113.9")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    # "3 per hour", and the window has only just started: come back in about an hour.
    assert 3000 < int(response.headers["Retry-After"]) <= 3600
    assert not [h for h in response.headers.keys() if h.lower().startswith("x-ratelimit")]


def test_valid_requests_count_too(client, db):
    for _ in range(3):
        assert submit(client).status_code == 303
    assert submit(client).status_code == 429
    assert count_rows(db, "appointment_requests") == 3


def test_sign_in_views_are_limited_wherever_they_are_registered():
    # The limit is declared on the view, so neither its blueprint nor its name matters.
    app = Flask(__name__)
    app.config.update(
        RATELIMIT_STORAGE_URI="memory://",
        FORM_RATE_LIMIT="100 per hour",
        SIGNIN_RATE_LIMIT="2 per minute",
    )

    @limits.sign_in_rate_limit
    def enter():
        return "ok"

    staff = Blueprint("doors", __name__)
    staff.add_url_rule("/staff/sign-in", "enter", enter, methods=["GET", "POST"])
    app.register_blueprint(staff)
    limits.init_app(app)
    client = app.test_client()
    assert [client.post("/staff/sign-in").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/staff/sign-in").status_code == 200


NO_REDIS = {"RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0"}

# The limiter is one per process, as in production (app/serving/limits.py), and it
# remembers that its storage was down; so this runs in a process of its own, where the
# outage is news, whatever other tests of this process did before.
REDIS_DOWN_SCRIPT = """
import io, json, logging, sys
from tests.conftest import make_test_app
from tests.support.forms import submit
app = make_test_app(sys.argv[1], RATELIMIT_STORAGE_URI=sys.argv[2])
stream = io.StringIO()
logging.getLogger().addHandler(logging.StreamHandler(stream))
client = app.test_client()
statuses = [submit(client).status_code for _ in range(2)]
app.extensions["db_engine"].dispose()
print(json.dumps({"statuses": statuses, "log": stream.getvalue()}))
"""


def test_redis_down_the_form_still_takes_requests_and_the_failure_is_logged(database_url, app, db):
    done = subprocess.run(
        [sys.executable, "-c", REDIS_DOWN_SCRIPT, database_url, NO_REDIS["RATELIMIT_STORAGE_URI"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["statuses"] == [303, 303]
    assert "Rate limit storage unreachable" in seen["log"]
    assert count_rows(db, "appointment_requests") == 2


def test_each_app_a_test_makes_starts_with_its_limit_storage_alive(database_url):
    # The one place the suite touches Flask-Limiter's private state (tests/conftest.py):
    # this fails if a new Flask-Limiter stops meaning "storage down" by that flag.
    down = make_test_app(database_url, **NO_REDIS)
    begin(down.test_client())  # the first page's post meets its limit: Redis unreachable
    assert limits.limiter._storage_dead is True
    make_test_app(database_url)
    assert limits.limiter._storage_dead is False
