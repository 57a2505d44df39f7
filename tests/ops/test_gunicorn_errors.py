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
