"""A hung Redis (it accepts connections and answers nothing) costs the form a fraction of
a second, and the form keeps taking requests."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import count_rows
from tests.support.forms import submit
from tests.support.proxy import hanging_proxy


@pytest.fixture
def proxy():
    with hanging_proxy(6379) as p:
        yield p


@pytest.fixture
def app_overrides(proxy):
    return {
        "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{proxy.port}/0",
        "RATELIMIT_KEY_PREFIX": f"intake-test-{uuid.uuid4().hex}",
        "FORM_RATE_LIMIT": "100 per hour",
    }


def test_a_hung_redis_costs_a_fraction_of_a_second(client, db, proxy):
    assert submit(client).status_code == 303  # Redis answering
    proxy.hang()
    seconds = []
    for _ in range(5):
        started = time.monotonic()
        assert submit(client).status_code == 303
        seconds.append(time.monotonic() - started)
    print(f"\nhung Redis: 5 form posts took {', '.join(f'{s:.2f}' for s in seconds)} s")
    assert max(seconds) < 1.0
    assert sum(seconds) < 2.0
    assert count_rows(db, "appointment_requests") == 6
