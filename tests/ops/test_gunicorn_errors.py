"""gunicorn's own answers to requests its parser rejects (400, 414, 431) and its log
lines carry no query string, and the answers carry the security headers."""

from __future__ import annotations

import socket

import pytest

from app.ops.logs import without_query_strings
from tests.support.databases import migrate_to_head
from tests.support.servers import gunicorn

SECRET = "Quillonq"


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2], ids=["sync", "gthread"])
def test_parser_errors_echo_nothing_and_carry_security_headers(tmp_path, threads):
    url = f"sqlite:///{tmp_path / 'intake.sqlite3'}"
    migrate_to_head(url)
    query = f"/request-appointment?last_name={SECRET}"
    cases = {
        400: f"GET {query} HTTP/1.1 extra\r\nHost: x\r\n\r\n".encode(),
        414: f"GET {query}&pad={'a' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        431: (
            f"GET {query} HTTP/1.1\r\nHost: x\r\n"
            + "".join(f"X-Filler-{i}: {SECRET}\r\n" for i in range(150))
            + "\r\n"
        ).encode(),
    }
    with gunicorn({"DATABASE_URL": url}, workers=1, threads=threads) as server:
        answers = {status: raw_request(server.port, data) for status, data in cases.items()}
        log = server.log()
    for status, answer in answers.items():
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
        assert SECRET.encode() not in answer
        assert b"Content-Security-Policy: default-src 'none'" in head
        assert b"X-Content-Type-Options: nosniff" in head
        assert b"could not be read" in body
    assert "Invalid request from ip=127.0.0.1: " in log and " (400)" in log
    assert "LimitRequestLine (414)" in log and "LimitRequestHeaders (431)" in log
    assert SECRET not in log


def test_log_lines_lose_their_query_strings():
    line = "Error handling request GET /staff/queue?q=Santos&x=1 'GET /a?b=c HTTP/1.1'"
    assert without_query_strings(line) == (
        "Error handling request GET /staff/queue?[query removed] 'GET /a?[query removed] HTTP/1.1'"
    )


# Raw bytes no client should send, where gunicorn's parser reads them: the request line
# (its path, its method, its version), a header's name and a header's value.
CONTROL_BYTES = [b"\x00", b"\x01", b"\x7f", b"\r", b"\x1b[2J"]
HOSTILE_BYTES = [b"\xe9", b"\xff\xfe", *CONTROL_BYTES]
HOSTILE_REQUESTS = [
    *(b"GET /" + raw + b" HTTP/1.1\r\nHost: x\r\n\r\n" for raw in HOSTILE_BYTES),
    *(b"GET /?q=" + raw + b" HTTP/1.1\r\nHost: x\r\n\r\n" for raw in HOSTILE_BYTES),
    *(b"G" + raw + b"T / HTTP/1.1\r\nHost: x\r\n\r\n" for raw in HOSTILE_BYTES),
    *(b"GET / HTTP/1." + raw + b"\r\nHost: x\r\n\r\n" for raw in HOSTILE_BYTES),
    *(b"GET / HTTP/1.1\r\nX-" + raw + b"a: 1\r\nHost: x\r\n\r\n" for raw in HOSTILE_BYTES),
    *(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a" + raw + b"b\r\n\r\n" for raw in CONTROL_BYTES),
    *(b"POST /staff/login HTTP/1.1\r\nHost: x\r\nContent-Length: " + raw + b"\r\n\r\n"
      for raw in HOSTILE_BYTES),
]  # fmt: skip
# Bytes above 127 in a header's value are allowed (RFC 9110's obs-text), so these may be
# served; in the headers the app reads they must still never be a 5xx.
OBS_TEXT_REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\xe9b\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: \xe9x\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nCookie: session=\xe9\xff\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Language: \xe9s\r\nConnection: close\r\n\r\n",
    b"GET /staff/queue HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: \xe9\r\nConnection: close\r\n\r\n",
    b"GET /static/css/site.css HTTP/1.1\r\nHost: x\r\nRange: bytes=\xe9-\r\n"
    b"Connection: close\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: \xe9\xe9\r\nConnection: close\r\n\r\n",
]


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2], ids=["sync", "gthread"])
def test_no_request_line_or_header_ends_a_worker(tmp_path, threads):
    """Each hostile request gets a 4xx, and the workers that answered are the same
    processes afterwards: none exited and was replaced."""
    url = f"sqlite:///{tmp_path / 'intake.sqlite3'}"
    migrate_to_head(url)
    with gunicorn({"DATABASE_URL": url}, workers=2, threads=threads) as server:
        pids = sorted(server.worker_pids())
        answers = [raw_request(server.port, data) for data in HOSTILE_REQUESTS]
        served = [raw_request(server.port, data) for data in OBS_TEXT_REQUESTS]
        # Still serving, by the same workers.
        healthy = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        after = sorted(server.worker_pids())
        log = server.log()
    statuses = [answer.split(b" ", 2)[1] for answer in answers]
    assert all(status.startswith(b"4") for status in statuses), list(
        zip(HOSTILE_REQUESTS, statuses, strict=True)
    )
    served_statuses = [answer.split(b" ", 2)[1] for answer in served]
    assert all(status < b"5" for status in served_statuses), list(
        zip(OBS_TEXT_REQUESTS, served_statuses, strict=True)
    )
    assert healthy.startswith(b"HTTP/1.1 200 ")
    assert after == pids, "a worker exited and was replaced"
    assert "Exception in worker process" not in log
    assert "Worker exiting" not in log
