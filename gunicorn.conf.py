"""gunicorn settings, from environment variables with defaults for a small machine.

gunicorn -c gunicorn.conf.py wsgi:app
"""

import contextlib
import glob
import os
import shutil
import socket
import sys
import tempfile

_config_was_imported = "config" in sys.modules
from config import gunicorn_workers  # noqa: E402

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers (one request at a time each), as gunicorn recommends behind a buffering
# proxy, which ours is (docs/production.md): the proxy takes the slow clients, and a worker
# only ever sees a whole request. Measured against four gthread threads per worker, a sync
# worker answered the public pages 20-40% faster per core and used about 5 MB less memory
# (docs/performance.md). How many: config.gunicorn_workers, which check-deploy uses too.
workers = gunicorn_workers(os.environ)
# Forgotten once read when this file was the first to import it (in the gunicorn master), so
# each worker imports config.py afresh: after a code deploy (`kill -HUP`) it reads the new
# one (app/__init__.py says why the master keeps no app code).
if not _config_was_imported:
    del sys.modules["config"]
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# gunicorn's sync and gthread workers, answering malformed requests without echoing them
# (app/ops/gunicorn_workers.py); the sync one, when told to stop, also serves the
# connections already queued instead of leaving them to be reset (app/ops/worker.py).
worker_class = (
    "app.ops.gunicorn_workers.QuietThreadWorker"
    if threads > 1
    else "app.ops.worker.QueueServingSyncWorker"
)
# The quick lane (app/serving/quick_lane.py): a second port where a thread in every sync worker
# answers /healthz, the information page, /favicon.ico and the static files at once, even
# while every worker waits on a hung database. nginx sends those paths there
# (deploy/nginx.conf); point the load balancer's liveness check at its /healthz. Unset: no
# second port.
quick_bind = os.environ.get("GUNICORN_QUICK_BIND", "").strip()

# Longer than any wait a request can meet (DB_POOL_TIMEOUT, DB_CONNECT_TIMEOUT,
# DB_STATEMENT_TIMEOUT, the Redis timeouts), so a hung dependency gets a 503, never a
# worker killed mid-request (`flask check-deploy` checks the sum).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM, workers finish the requests they hold for up to this long before exiting.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
preload_app = os.environ.get("GUNICORN_PRELOAD", "false").lower() in {"1", "true", "yes", "on"}
# Recycle workers now and then so a slow leak cannot grow forever; jitter avoids all
# workers restarting at once. Not much more often: a new worker re-imports the app (about
# a second of CPU), which at 2,000 requests cost a third of the information page's time,
# and worker memory stays flat from 20,000 to 40,000 requests (docs/performance.md).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10

# Logs to stdout/stderr as JSON lines; the access line has the path but never the query
# string, and carries the app's request id.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "app.ops.logs.GunicornJsonLogger"
# The proxy in front sets X-Forwarded-*; the app's ProxyFix (TRUSTED_PROXY_COUNT) reads them.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No request header sets the WSGI SCRIPT_NAME or PATH_INFO, not even from a peer in
# forwarded_allow_ips (gunicorn's default lets it): SCRIPT_NAME is the prefix of every link
# the app builds, and a cached public page would carry a client's value to the next
# visitors. The app takes a path prefix only from X-Forwarded-Prefix, and only when
# TRUST_FORWARDED_PREFIX says the proxy sets it (app/serving). Headers with an underscore
# are then dropped (gunicorn's header_map).
forwarder_headers = ""

# Prometheus metrics from every worker (app/ops/metrics.py; docs/operations.md, "Metrics
# and alerts"): each worker process counts in files of its own in PROMETHEUS_MULTIPROC_DIR
# and /metrics adds them up. Give the outbox worker on this host the same directory and
# its deliveries are counted too. Unset: a new temporary directory for this gunicorn,
# removed when it exits. Set here, before a worker imports prometheus_client (it reads the
# variable then); a reload (HUP) finds it set and keeps it.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="intake-metrics-")
    os.environ["INTAKE_METRICS_DIR_IS_TEMPORARY"] = "1"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_metrics_directory(directory: str) -> None:
    """At start, the counts of processes no longer running go: a new gunicorn counts from
    zero (Prometheus reads a drop to zero as a restart) instead of adding its counts to
    the last run's, while a running outbox worker sharing the directory keeps its own."""
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        pid = path[: -len(".db")].rsplit("_", 1)[-1]
        if not pid.isdigit() or not _running(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def child_exit(server, worker):
    # A worker's counters stay (they are totals); its gauges of "now" (connections in use)
    # go with it.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("INTAKE_METRICS_DIR_IS_TEMPORARY"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def on_starting(server):
    _clean_metrics_directory(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    # A host starting afresh after "drain, then stop" (scripts/stop-host.sh) goes back into
    # the load balancer's rotation. Only at start: a reload (`kill -HUP`, a deploy) keeps
    # a drain that is under way.
    drain_file = os.environ.get("DRAIN_FILE", "").strip()
    if drain_file:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(drain_file)


def when_ready(server):
    # Opened by the master, once, so every worker (and every worker after a reload)
    # inherits the same socket. Plain socket code: the master must not import the app.
    if quick_bind and threads == 1 and not hasattr(server, "quick_listener"):
        host, _, port = quick_bind.rpartition(":")
        listener = socket.create_server((host.strip("[]") or "127.0.0.1", int(port)), backlog=128)
        listener.set_inheritable(True)
        server.quick_listener = listener
        server.log.info("Quick lane listening at: http://%s", quick_bind)


def post_worker_init(worker):
    listener = getattr(worker, "quick_listener", None)
    if listener is not None:
        from app.serving import quick_lane

        worker.wsgi = quick_lane.only_quick_on_the_lane(worker.wsgi)
        quick_lane.start(worker, listener)


def post_fork(server, worker):
    quick_listener = getattr(server, "quick_listener", None)
    if quick_listener is not None:
        worker.quick_listener = quick_listener
    # With preload_app the app, and its database engine, were created in the master: a
    # pooled connection copied into several processes would be shared by all of them.
    # Each worker drops the copies (without closing the parent's sockets) and opens its own.
    wsgi = sys.modules.get("wsgi")
    app = getattr(wsgi, "app", None)
    engine = getattr(app, "extensions", {}).get("db_engine") if app else None
    if engine is not None:
        engine.dispose(close=False)


# gunicorn 27's control socket lives at one path per user (~/.gunicorn/gunicorn.ctl), so
# a second gunicorn on the same host (another instance, a bench, a test server) would
# fight over it. Off unless asked for.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "false").lower() not in {
    "1",
    "true",
    "yes",
    "on",
}
