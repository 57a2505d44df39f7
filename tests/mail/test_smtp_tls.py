"""STARTTLS (with the certificate checked) and login, against a real server that refuses
mail without both."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from app.mail.worker import Worker
from app.models import OutboxMessage, OutboxStatus
from tests.support.forms import submit, valid_answers
from tests.support.smtp import SmtpServer

USER, PASSWORD = "intake-relay", "relay password 1"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def smtp(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = SmtpServer(
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticate,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def app_overrides(smtp, certificate) -> dict:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": smtp.port,
        "SMTP_STARTTLS": True,
        "SMTP_CA_FILE": str(certificate[0]),
        "SMTP_USERNAME": USER,
        "SMTP_PASSWORD": PASSWORD,
        "RATELIMIT_ENABLED": False,
    }


def test_mail_goes_over_starttls_after_login(app, client, db, smtp):
    assert submit(client, valid_answers()).status_code == 303
    assert Worker(app).deliver_due() == 1
    [received] = smtp.wait_for(1)
    assert received.rcpt_tos == ["Maria.Santos@example.com"]
    # The server takes no mail before STARTTLS (require_starttls) and login.
    assert smtp.logins == [LoginPassword(USER.encode(), PASSWORD.encode())]


def test_a_wrong_password_keeps_the_message_waiting(app, client, db, smtp):
    app.config["SMTP_PASSWORD"] = "not the password"
    assert submit(client, valid_answers()).status_code == 303
    assert Worker(app).deliver_due() == 0
    message = db.scalars(select(OutboxMessage)).one()
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    assert message.last_error.startswith("Login refused: 535")
    assert smtp.received == []


def test_an_untrusted_certificate_is_refused_not_bypassed(app, client, db, smtp):
    app.config["SMTP_CA_FILE"] = None  # the system's CAs do not know the test's certificate
    assert submit(client, valid_answers()).status_code == 303
    assert Worker(app).deliver_due() == 0
    message = db.scalars(select(OutboxMessage)).one()
    assert message.status == OutboxStatus.PENDING
    assert "SSLCertVerificationError" in message.last_error
    assert smtp.received == []
