"""X-Forwarded-* is believed only on connections from a configured proxy; check-deploy
warns about a trusted-proxy count with the app port open on every interface."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditEvent
from app.ops.deploy_check import proxy_problems
from app.serving.trusted_proxies import is_trusted, parse_networks
from config import ConfigError
from tests.support.forms import SEND_URL, begin
from tests.support.staff import client_from, make_staff, sign_in


@pytest.fixture
def app_overrides():
    return {
        "TRUSTED_PROXY_COUNT": 1,
        "TRUSTED_PROXIES": "10.1.2.3, 192.168.50.0/24",
        "FORM_RATE_LIMIT": "2 per hour",
    }


def post_form(client, forwarded_for: str):
    # A send with nothing filled in: sent back to the first step, and counted.
    data = {"csrf_token": begin(client)}
    return client.post(SEND_URL, data=data, headers={"X-Forwarded-For": forwarded_for})


def test_a_rotating_forwarded_for_from_outside_does_not_escape_the_limit(app):
    direct = client_from(app, "198.51.100.7")  # someone reaching the app port directly
    statuses = [post_form(direct, f"203.0.113.{i}").status_code for i in range(3)]
    assert statuses == [303, 303, 429]


def test_the_trusted_proxy_is_believed(app):
    proxy = client_from(app, "192.168.50.9")
    statuses = [post_form(proxy, f"203.0.113.{i}").status_code for i in range(3)]
    assert statuses == [303, 303, 303], "each client behind the proxy counts on its own"


def test_the_audit_trail_keeps_the_real_peer_from_outside(app, db):
    make_staff(app, db)
    direct = client_from(app, "198.51.100.7")
    direct.environ_base["HTTP_X_FORWARDED_FOR"] = "10.0.0.1"
    sign_in(direct, password="wrong password!")
    proxied = client_from(app, "10.1.2.3")
    proxied.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.44"
    sign_in(proxied, password="wrong password!")
    db.rollback()
    addresses = [e.client_ip for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert addresses == ["198.51.100.7", "203.0.113.44"]


def test_networks_are_parsed_and_checked():
    networks = parse_networks("127.0.0.1, ::1, 10.0.0.0/8")
    assert is_trusted("10.20.30.40", networks)
    assert is_trusted("::ffff:127.0.0.1", networks)
    assert is_trusted("::1", networks)
    assert not is_trusted("11.0.0.1", networks)
    assert not is_trusted(None, networks)
    assert not is_trusted("not an address", networks)
    assert parse_networks("") == ()
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        parse_networks("10.0.0.0/8, nginx")


def test_check_deploy_warns_on_a_proxy_count_with_a_bind_on_all_interfaces():
    config = {"TRUSTED_PROXY_COUNT": 1, "TRUSTED_PROXIES": "10.1.2.3"}
    assert proxy_problems(config, {"GUNICORN_BIND": "127.0.0.1:8000"}) == []
    for bind in ("0.0.0.0:8000", "[::]:8000", ":8000"):
        found = proxy_problems(config, {"GUNICORN_BIND": bind})
        assert len(found) == 1 and "listens on every interface" in found[0], bind
    assert (
        proxy_problems({**config, "TRUSTED_PROXY_COUNT": 0}, {"GUNICORN_BIND": "0.0.0.0:8000"})
        == []
    )
    assert (
        "trusts every address" in proxy_problems({**config, "TRUSTED_PROXIES": "0.0.0.0/0"}, {})[0]
    )
    assert "TRUSTED_PROXIES is empty" in proxy_problems({**config, "TRUSTED_PROXIES": ""}, {})[0]
