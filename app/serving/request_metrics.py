"""Every request timed for Prometheus, by URL rule, method and status (app/common/metrics.py).

The outermost WSGI layer, so the time covers everything the app does to build an answer,
replayed pages included (app/serving/replay.py answers those without reaching Flask).
The route is the *rule* Flask matched (``/request-appointment/received/<reference>``),
recorded in the WSGI environment by a hook that runs before every other; the replay
records its own paths, which are rules that take no parameter. A request that matched
nothing (404, 405) is ``(unmatched)``: the address someone typed is never a label.

Cost (docs/performance.md): two clock reads, a dict look-up for the series and two
writes to the worker's metrics file, a few microseconds a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from flask import Flask, request

from app.common.metrics import HTTP_REQUEST_SECONDS, UNMATCHED_ROUTE

ROUTE_KEY = "intake.route"
# A client chooses the method: any other word is "other", so no one can make up series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def record_route(environ: dict, rule: str) -> None:
    environ[ROUTE_KEY] = rule


def init_app(app: Flask) -> None:
    """The hook that names the route; call before any other before_request hook, so a
    request another hook answers (a 429, a language 404) still has its rule."""

    @app.before_request
    def _record_route() -> None:
        rule = request.url_rule
        if rule is not None:
            request.environ[ROUTE_KEY] = rule.rule


class RequestMetrics:
    def __init__(self, wsgi_app: Callable) -> None:
        self._wsgi_app = wsgi_app
        # (route, method, status) -> the histogram's child: labels() validates and locks
        # on every call; the children never change.
        self._series: dict[tuple[str, str, str], object] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["500"]

        def timed_start_response(status_line, headers, exc_info=None):
            status[0] = status_line[:3]
            return start_response(status_line, headers, exc_info)

        try:
            return self._wsgi_app(environ, timed_start_response)
        finally:
            # Flask has built the whole answer by now (no view streams); writing it out is
            # gunicorn's, into nginx's buffer. The answer itself is passed on untouched, so
            # a file wrapper keeps gunicorn's sendfile.
            method = environ.get("REQUEST_METHOD", "")
            key = (
                environ.get(ROUTE_KEY, UNMATCHED_ROUTE),
                method if method in _METHODS else "other",
                status[0],
            )
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = HTTP_REQUEST_SECONDS.labels(*key)
            series.observe(time.perf_counter() - started)
