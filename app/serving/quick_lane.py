"""The quick lane: a second listening port, served by a thread of its own in every gunicorn
worker, for what never touches the database: /healthz, the pages the same for everyone
(the information page and /favicon.ico, in both languages) and the static files.

Why: a sync worker serves one request at a time. With the database hung, every worker can
be waiting on it (up to DB_CONNECT_TIMEOUT + DB_STATEMENT_TIMEOUT each, app/db_timeouts.py)
and everything else waits in the listening socket's queue behind them: /healthz and the
information page took up to 3.7 s under 8 concurrent requests (issue 25), so a load
balancer could take a host out for a database it shares with every other host, and a
patient reading about her illness waited on a database the page does not use. On the
quick port, each worker's quick-lane thread accepts and answers at once, whatever its main
thread is doing; the waits on the database release the GIL.

Rejected: gthread workers with a thread kept back (a worker cannot tell what a request
needs before it has read it, so the kept thread would have to read every request first:
one slow client would hold it); a separate server process (one more thing for ops to run
and deploy). nginx sends the quick paths to this port (deploy/nginx.conf); anything else
that arrives here is a 404, so a misrouted request can never make the lane wait.

gunicorn.conf.py opens the port in the master (GUNICORN_QUICK_BIND) and starts the thread
in every sync worker; gthread workers (GUNICORN_THREADS above 1) do not get one.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
from collections.abc import Callable, Iterable

from app.ops.gunicorn_workers import error_response
from app.serving.headers import public_paths

THREAD_NAME = "quick-lane"
# A request on the quick port must arrive whole at once (nginx buffers it); a client that
# dribbles is cut off after this rather than hold the lane.
READ_TIMEOUT_SECONDS = 5
_ACCEPT_TICK_SECONDS = 1.0
_CLOSED = frozenset({errno.EBADF, errno.EINVAL, errno.ENOTSOCK})


def quick_paths(app) -> tuple[frozenset[str], tuple[str, ...]]:
    """Addresses the lane serves (exactly), and prefixes it serves (the static files)."""
    paths = {"/healthz"}
    for path in public_paths(app):
        paths.add(path)
        paths.add("/es" + path)
    paths.add("/es")
    prefix = (app.static_url_path or "/static").rstrip("/") + "/"
    return frozenset(paths), (prefix,)


def only_quick_on_the_lane(wsgi_app) -> Callable:
    """The worker's app (wsgi:app), unchanged for its main thread; on the lane's thread it
    serves the quick paths only (GET and HEAD) and answers anything else 404."""
    paths, prefixes = quick_paths(wsgi_app)

    def lane_filter(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if threading.current_thread().name != THREAD_NAME:
            return wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        quick = path in paths or path.startswith(prefixes)
        if quick and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return wsgi_app(environ, start_response)
        head, _, body = error_response(404, "Not Found").partition(b"\r\n\r\n")
        headers = [tuple(line.split(": ", 1)) for line in head.decode("latin-1").split("\r\n")[1:]]
        start_response("404 Not Found", [h for h in headers if h[0] != "Connection"])
        return [body]

    return lane_filter


def start(worker, listener: socket.socket) -> threading.Thread:
    """Serve the quick port on a thread of this worker, with the worker's own request
    handling (its parser, error pages and access log), until the worker stops."""
    listener.settimeout(_ACCEPT_TICK_SECONDS)
    thread = threading.Thread(target=_serve, args=(worker, listener), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


def _serve(worker, listener: socket.socket) -> None:
    while worker.alive:
        try:
            client, addr = listener.accept()
        except TimeoutError:
            continue
        except OSError as error:
            if error.errno in _CLOSED:
                return  # shut down: the host is stopping (app/ops/worker.py)
            continue  # another worker's thread took it (EAGAIN), or it was aborted
        client.settimeout(READ_TIMEOUT_SECONDS)
        try:
            worker.handle(listener, client, addr)
        except Exception:  # noqa: BLE001 (the lane outlives any one request)
            worker.log.warning("quick lane: a request failed")
            with contextlib.suppress(OSError):
                client.close()
