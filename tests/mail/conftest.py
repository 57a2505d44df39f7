"""Every e-mail test talks to a real SMTP server it starts (aiosmtpd on a free port)."""

from __future__ import annotations

import pytest

from tests.support.smtp import running_smtp_server


@pytest.fixture
def smtp():
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def app_overrides(smtp) -> dict:
    return {
        **smtp.config(),
        "RATELIMIT_ENABLED": False,
        "OUTBOX_RETRY_SECONDS": 60,
        "OUTBOX_MAX_ATTEMPTS": 3,
        "INTAKE_MAILBOX": None,
    }
