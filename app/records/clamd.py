"""Scanning a file with ClamAV's daemon, clamd, through its documented INSTREAM command.

``man clamd``: send ``zINSTREAM\\0``, then the data in chunks, each a 4-byte big-endian
length and that many bytes, then a zero length; clamd answers ``stream: OK\\0``,
``stream: <signature> FOUND\\0`` or ``... ERROR\\0``. That is the whole protocol we use,
written here in thirty lines rather than taken from a client library: the maintained one
(clamav-client) is GPL-2.0, which the center's lawyers would have to clear for a
hospital's code, and sends 1 KiB chunks (10,000 writes for a 10 MB scan).

A scan has three outcomes, and only CLEAN lets anyone open the file. UNAVAILABLE (clamd
stopped, a timeout, a refusal such as StreamMaxLength) keeps the file held as "not yet
scanned" until ``flask records scan`` gets an answer.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

# clamd's default StreamMaxLength is 25 MB; our files are at most RECORDS_MAX_FILE_MB.
_CHUNK = 256 * 1024
_ANSWER_MAX = 4096


class Verdict:
    CLEAN = "clean"
    FLAGGED = "flagged"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class ScanResult:
    verdict: str
    # The signature clamd named, or why there was no answer (never the file's content).
    detail: str | None = None


@dataclass(frozen=True, kw_only=True)
class ClamdSettings:
    # A Unix socket path, or "host:port".
    address: str
    timeout: float = 20.0


def _connect(settings: ClamdSettings) -> socket.socket:
    address = settings.address
    if address.startswith("/") or ":" not in address:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: object = address
    else:
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        target = (host.strip("[]"), int(port))
    sock.settimeout(settings.timeout)
    try:
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock


def scan(data: bytes, *, settings: ClamdSettings) -> ScanResult:
    """Ask clamd about ``data``; never raises for clamd's sake."""
    try:
        with _connect(settings) as sock:
            sock.sendall(b"zINSTREAM\0")
            view = memoryview(data)
            for start in range(0, len(view), _CHUNK):
                chunk = view[start : start + _CHUNK]
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
            answer = _read_answer(sock)
    except (OSError, ValueError) as error:
        return ScanResult(Verdict.UNAVAILABLE, f"clamd unreachable: {type(error).__name__}")
    return parse_answer(answer)


def _read_answer(sock: socket.socket) -> bytes:
    answer = b""
    while b"\0" not in answer and len(answer) < _ANSWER_MAX:
        part = sock.recv(_ANSWER_MAX)
        if not part:
            break
        answer += part
    return answer.split(b"\0", 1)[0]


def parse_answer(answer: bytes) -> ScanResult:
    text = answer.decode("utf-8", "replace").strip()
    if text.endswith(" FOUND"):
        signature = text.removeprefix("stream:").removesuffix(" FOUND").strip()
        return ScanResult(Verdict.FLAGGED, signature[:100] or "unnamed signature")
    if text == "stream: OK":
        return ScanResult(Verdict.CLEAN)
    # "INSTREAM size limit exceeded. ERROR", "... ERROR", or nothing at all.
    return ScanResult(Verdict.UNAVAILABLE, ("clamd: " + text)[:100] if text else "clamd: no answer")


def ping(settings: ClamdSettings) -> bool:
    try:
        with _connect(settings) as sock:
            sock.sendall(b"zPING\0")
            return _read_answer(sock) == b"PONG"
    except OSError:
        return False
