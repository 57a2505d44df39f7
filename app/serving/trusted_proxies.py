"""X-Forwarded-* believed only from the proxies we run.

``TRUSTED_PROXY_COUNT`` says how many proxy hops set the headers; ``TRUSTED_PROXIES``
says which peers those proxies are. A request whose connection comes from anywhere else
(someone reaching the app port directly) has its X-Forwarded-* headers removed, so it
cannot choose its own address to escape the rate limits or forge the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

from app.common import addresses
from app.common.addresses import Network
from config import ConfigError

_FORWARDED_KEYS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
)


def parse_networks(
    value: str | Iterable[str] | None, *, setting: str = "TRUSTED_PROXIES"
) -> tuple[Network, ...]:
    try:
        return addresses.parse_networks(value)
    except ValueError as error:
        raise ConfigError(
            f"{setting} must list addresses or networks like 10.0.0.5 or 10.0.0.0/24: {error}"
        ) from None


def is_trusted(peer: str | None, networks: tuple[Network, ...]) -> bool:
    return addresses.in_networks(peer, networks)


class TrustedProxyFix:
    """ProxyFix for connections from a trusted proxy; for any other peer, the headers
    are dropped and the peer's own address stands."""

    def __init__(
        self, app, *, count: int, networks: tuple[Network, ...], trust_prefix: bool = False
    ):
        self.app = app
        self.networks = networks
        prefix = count if trust_prefix else 0
        self.fixed = ProxyFix(app, x_for=count, x_proto=count, x_host=count, x_prefix=prefix)

    def __call__(self, environ, start_response):
        if is_trusted(environ.get("REMOTE_ADDR"), self.networks):
            return self.fixed(environ, start_response)
        for key in _FORWARDED_KEYS:
            environ.pop(key, None)
        return self.app(environ, start_response)
