"""gunicorn settings, the trusted proxy count and the database pool."""

import os
import runpy
from pathlib import Path

import pytest
from flask import request, url_for

from app.db import make_engine
from tests.conftest import make_test_app

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def load_gunicorn_conf(monkeypatch, **env) -> dict:
    for name in ("GUNICORN_BIND", "GUNICORN_WORKERS", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    # The file sets the metrics directory in the environment when it is missing (a real
    # gunicorn's own): set here, so that this process's environment is left as it was.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/intake-metrics-conf-test")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(GUNICORN_CONF))


def test_gunicorn_defaults_suit_a_small_machine(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    assert conf["bind"] == "127.0.0.1:8000"
    cores = len(os.sched_getaffinity(0))
    workers = min(2 * cores + 1, 9)
    assert (conf["workers"], conf["threads"], conf["worker_class"]) == (
        workers,
        1,
        "app.ops.worker.QueueServingSyncWorker",
    )
    # Serving queued connections on stop (issue 12) and quiet about malformed requests.
    from app.ops.gunicorn_workers import QuietSyncWorker
    from app.ops.worker import QueueServingSyncWorker

    assert issubclass(QueueServingSyncWorker, QuietSyncWorker)
    assert conf["accesslog"] == "-"
    assert conf["logger_class"] == "app.ops.logs.GunicornJsonLogger"
    assert conf["graceful_timeout"] > 0
    assert callable(conf["post_fork"])


def test_gunicorn_reads_its_settings_from_the_environment(monkeypatch):
    conf = load_gunicorn_conf(
        monkeypatch, GUNICORN_BIND="0.0.0.0:9000", GUNICORN_WORKERS="3", GUNICORN_THREADS="4"
    )
    assert (conf["bind"], conf["workers"]) == ("0.0.0.0:9000", 3)
    assert conf["worker_class"] == "app.ops.gunicorn_workers.QuietThreadWorker"
    assert load_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="6")["workers"] == 6


def test_post_fork_drops_connections_inherited_from_a_preloaded_master(monkeypatch, database_url):
    import sys
    import types

    app = make_test_app(database_url)
    engine = app.extensions["db_engine"]
    with engine.connect():
        pass
    before = engine.pool
    monkeypatch.setitem(sys.modules, "wsgi", types.SimpleNamespace(app=app))
    load_gunicorn_conf(monkeypatch)["post_fork"](None, None)
    assert engine.pool is not before, "a fresh pool for the worker"
    # (A real worker leaves the parent's connections alone; this test is the parent too.)
    before.dispose()
    engine.dispose()


def test_the_postgresql_pool_is_bounded_and_checks_connections():
    engine = make_engine(
        "postgresql+psycopg://u@127.0.0.1:1/db", pool_size=3, max_overflow=2, pool_timeout=4
    )
    # The ping that replaces dead connections is app/db_timeouts.py's, with a deadline:
    # proven in test_db_timeouts.py.
    assert engine.pool.size() == 3
    assert engine.pool._max_overflow == 2
    assert engine.pool._timeout == 4
    assert engine.hide_parameters is True


def echo_client(database_url, proxies: int):
    app = make_test_app(database_url, TRUSTED_PROXY_COUNT=proxies)

    @app.get("/test-echo")
    def _echo():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host,
                "home": url_for("public.information", _external=True)}  # fmt: skip

    return app.test_client()


FORWARDED = {
    "X-Forwarded-For": "198.51.100.4, 203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "intake.example.org",
}


def test_with_one_trusted_proxy_the_client_address_scheme_and_host_come_from_it(database_url):
    seen = echo_client(database_url, 1).get("/test-echo", headers=FORWARDED).get_json()
    # Only the last hop (the one our proxy added) is believed.
    assert seen["addr"] == "203.0.113.9"
    assert (seen["scheme"], seen["host"]) == ("https", "intake.example.org")
    # So links and redirects the app builds point at the public https address.
    assert seen["home"] == "https://intake.example.org/"


@pytest.mark.parametrize("proxies", [0])
def test_with_no_trusted_proxy_forwarded_headers_are_ignored(database_url, proxies):
    seen = echo_client(database_url, proxies).get("/test-echo", headers=FORWARDED).get_json()
    assert (seen["addr"], seen["scheme"], seen["host"]) == ("127.0.0.1", "http", "localhost")
