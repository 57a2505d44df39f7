"""Structured logs: one JSON object a line, each carrying the request id, none carrying
patient data.

Patient data could reach a log through an exception's message (a database error quotes
the values it failed to store, a validation library quotes its input). So tracebacks are
logged as the stack and the exception *types* only, never their messages, and the engine
is created with ``hide_parameters``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import sys
import traceback
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request
from gunicorn import glogging
from pythonjsonlogger.json import JsonFormatter

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_HANDLER_NAME = "intake-json"


class SafeJsonFormatter(JsonFormatter):
    """JSON lines with timestamp, level, logger, message and request id."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
        )

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return format_exception_without_messages(ei[1])

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.setdefault("request_id", getattr(record, "request_id", None))


def format_exception_without_messages(exc: BaseException | None) -> str:
    """The traceback of an exception and its causes, naming each exception's type only."""
    parts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        stack = "".join(traceback.format_tb(exc.__traceback__))
        parts.append(f"Traceback:\n{stack}{type(exc).__module__}.{type(exc).__qualname__}")
        exc = exc.__cause__ or exc.__context__
    return "\n--- caused by ---\n".join(reversed(parts))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str) -> None:
    """Send every logger's records to stderr as JSON (once per process)."""
    root = logging.getLogger()
    if not any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(SafeJsonFormatter())
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())


class _RequestIds:
    """Request ids unique across workers and hosts without a system call each: a random
    prefix per process and a counter. (uuid4 read /dev/urandom on every request: 7% of a
    worker's time on the information page, docs/performance.md.) An id only needs to be
    unique, not unguessable; it names a request in the logs and is no credential."""

    def __init__(self) -> None:
        self._reset()
        # A forked worker must not repeat its parent's ids.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count(1)  # next() on it is atomic under the GIL

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_request_ids = _RequestIds()


def request_id_for(incoming: str | None) -> str:
    """The proxy's X-Request-ID if it looks like one, else a new id."""
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return _request_ids.new()


def init_request_ids(app: Flask) -> None:
    """Each request gets an id: the proxy's X-Request-ID if it looks like one, else a new
    one. It is on every log line of the request and on the response, so a person who
    reports a problem can quote it."""

    @app.before_request
    def _assign_request_id() -> None:
        # From the WSGI environment: the same header, without a headers object's lookup.
        g.request_id = request_id_for(request.environ.get("HTTP_X_REQUEST_ID"))

    @app.after_request
    def _send_request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response


_QUERY_STRING = re.compile(r"\?[^\s'\"]*")


def without_query_strings(text: str) -> str:
    """Every ``?...`` (up to a space or quote) replaced: gunicorn's own error lines quote
    request lines and URIs ("Error handling request GET /x?name=..."), and a query
    string may hold patient data."""
    return _QUERY_STRING.sub("?[query removed]", text)


class QueryStringFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = without_query_strings(record.getMessage())
        record.args = ()
        return True


class GunicornJsonLogger(glogging.Logger):
    """gunicorn's logger, writing JSON: access lines carry the path without its query
    string, and the request id the app set on the response."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(SafeJsonFormatter())
            handler.addFilter(QueryStringFilter())
        for handler in self.access_log.handlers:
            handler.setFormatter(logging.Formatter("%(message)s"))

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        request_id = None
        for name, value in resp.headers:
            if name.lower() == "x-request-id":
                request_id = value
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "timestamp": datetime.now(UTC).isoformat(),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": "request",
            "request_id": request_id,
            "remote_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
        }
        self.access_log.info(json.dumps(line))
