"""A real SMTP server for the e-mail tests: aiosmtpd on a free port, in a thread.

It keeps every message it accepts, and can be told to answer a recipient with a temporary
(4xx) or permanent (5xx) refusal, to hold a message before answering, or to go away and
come back on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)  # type: ignore[return-value]


@dataclass
class Rules:
    # address -> list of answers to give to RCPT, one per try; "250" or absent accepts.
    rcpt_answers: dict[str, list[str]] = field(default_factory=dict)
    # Hold the n-th accepted DATA (1-based) until `release` is set.
    hold_nth: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answers = self.server.rules.rcpt_answers.get(address)
        self.server.rcpt_attempts.append(address)
        if answers:
            answer = answers.pop(0)
            if not answer.startswith("250"):
                return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rules = self.server.rules
        with self.server.lock:
            self.server.data_count += 1
            number = self.server.data_count
        # Kept as soon as it is all here, before answering: a client that dies while
        # waiting for the answer has still handed the message over.
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
        if rules.hold_nth == number:
            rules.holding.set()
            while not rules.release.is_set():
                await asyncio.sleep(0.02)
        self.server.logins.append(session.authenticated and session.auth_data)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int | None = None, **server_options):
        self.port = port or free_port()
        # aiosmtpd's own options: tls_context, require_starttls, auth_required, authenticator...
        self.server_options = server_options
        self.rules = Rules()
        self.received: list[Received] = []
        self.rcpt_attempts: list[str] = []
        self.logins: list = []
        self.data_count = 0
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        # The server's own log quotes every command it gets, addresses included: it is
        # the other side of the conversation, not ours, and only noise here.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            ready_timeout=5,
            **self.server_options,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self.rules.release.set()
            self._controller.stop()
            self._controller = None

    def config(self) -> dict:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_STARTTLS": False}

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} messages, got {len(self.received)}")


@contextlib.contextmanager
def running_smtp_server(port: int | None = None):
    server = SmtpServer(port).start()
    try:
        yield server
    finally:
        server.stop()
