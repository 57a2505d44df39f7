"""gunicorn workers whose own error pages say nothing of the request.

gunicorn answers requests its HTTP parser rejects (a malformed request line, a URI over
its limit: 414, too many or too large headers: 431) itself, before the app sees them:
its page quotes the offending request line, query string included, and carries none of
the app's security headers. These workers answer those with a short plain-text page,
the usual security headers and no echo of the request; everything else (and the 500
path, whose page is already empty) is gunicorn's own handling. The matching log lines
lose their query strings in app.ops.logs.GunicornJsonLogger.

gunicorn.conf.py picks the sync or gthread one, as it did gunicorn's own.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from gunicorn.http import errors
from gunicorn.http.message import Request
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

# (status, reason) for the parser's refusals; any other client error is a 400.
_STATUS = {
    errors.LimitRequestLine: (414, "URI Too Long"),
    errors.LimitRequestHeaders: (431, "Request Header Fields Too Large"),
    errors.ForbiddenProxyRequest: (403, "Forbidden"),
    errors.ExpectationFailed: (417, "Expectation Failed"),
    errors.UnsupportedTransferCoding: (501, "Not Implemented"),
}
_CLIENT_ERRORS = (
    errors.InvalidRequestLine,
    errors.InvalidRequestMethod,
    errors.InvalidHTTPVersion,
    errors.InvalidHeader,
    errors.InvalidHeaderName,
    errors.LimitRequestLine,
    errors.LimitRequestHeaders,
    errors.InvalidProxyLine,
    errors.ForbiddenProxyRequest,
    errors.InvalidSchemeHeaders,
    errors.UnsupportedTransferCoding,
    errors.ObsoleteFolding,
    errors.ExpectationFailed,
    errors.InvalidChunkSize,
    errors.ChunkMissingTerminator,
    errors.InvalidChunkExtension,
)
# The headers app.serving.headers sets on the app's own pages that matter for a text page.
_HEADERS = (
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n"
    "Connection: close\r\n"
)


def error_response(status: int, reason: str) -> bytes:
    body = f"{reason}. The request could not be read.\n"
    return (
        f"HTTP/1.1 {status} {reason}\r\n{_HEADERS}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode("latin-1")


class _QuietErrors:
    def handle_error(self, req, client, addr, exc):
        # The error path of an error must never raise: whatever escapes here leaves the
        # worker's loop and the worker exits. `GET /\xe9 HTTP/1.1` did that 35 times in 35
        # (InvalidRequestLine carries the raw line as a str where a request was expected),
        # and through nginx each such request was a 502 and a worker restart (issue 25).
        try:
            if isinstance(exc, _CLIENT_ERRORS):
                self._refuse(req, client, addr, exc)
            else:
                super().handle_error(req, client, addr, exc)
        except Exception as failure:  # noqa: BLE001 (logged by type; the worker lives on)
            self.log.warning(
                "Error page not written: %s while answering %s",
                type(failure).__name__,
                type(exc).__name__,
            )
            status, reason = (
                (400, "Bad Request")
                if isinstance(exc, _CLIENT_ERRORS)
                else (
                    500,
                    "Internal Server Error",
                )
            )
            with contextlib.suppress(Exception):
                client.sendall(error_response(status, reason))

    def _refuse(self, req, client, addr, exc) -> None:
        started = datetime.now()
        addr = addr or ("", -1)
        status, reason = next(
            (value for kind, value in _STATUS.items() if isinstance(exc, kind)),
            (400, "Bad Request"),
        )
        # The exception's type, never its text: the text quotes the request line.
        self.log.warning("Invalid request from ip=%s: %s (%s)", addr[0], type(exc).__name__, status)
        if req is None:
            # Some parser errors carry the request they were reading; others carry the raw
            # request line, a str, which is no request.
            req = getattr(exc, "req", None)
        if isinstance(req, Request):
            # A half-read request may lack what the access line reads (its version, its
            # body): the access line is skipped then, never the answer.
            with contextlib.suppress(Exception):
                environ = default_environ(req, client, self.cfg)
                environ["REMOTE_ADDR"] = addr[0]
                environ["REMOTE_PORT"] = str(addr[1])
                resp = Response(req, client, self.cfg)
                resp.status = f"{status} {reason}"
                self.log.access(resp, req, environ, datetime.now() - started)
        try:
            client.sendall(error_response(status, reason))
        except OSError:
            self.log.debug("Failed to send error message.")


class QuietSyncWorker(_QuietErrors, SyncWorker):
    pass


class QuietThreadWorker(_QuietErrors, ThreadWorker):
    pass
