"""X-Forwarded-* believed only from the proxies we run.

``TRUSTED_PROXY_COUNT`` says how many proxy hops set the headers; ``TRUSTED_PROXIES``
says which peers those proxies are. A request whose connection comes from anywhere else
(someone reaching the app port directly) has its X-Forwarded-* headers removed, so it
cannot choose its own address to escape the rate limits or forge the audit trail.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

from config import ConfigError

_FORWARDED_KEYS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(
    value: str | Iterable[str] | None, *, setting: str = "TRUSTED_PROXIES"
) -> tuple[Network, ...]:
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"{setting} must list addresses or networks like 10.0.0.5 or "
                f"10.0.0.0/24, got {part!r}"
            ) from None
    return tuple(networks)


def is_trusted(peer: str | None, networks: tuple[Network, ...]) -> bool:
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


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
