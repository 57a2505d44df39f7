"""Client addresses as the limits count them.

One IPv6 subscriber is handed a whole /64 (RFC 6177; home and mobile providers alike) and
may use any of its 2^64 addresses: counting each address apart would let one attacker
send every attempt from a new one. So every limit per address counts an IPv6 client by
its /64, and an IPv4 client (also written IPv4-mapped, ::ffff:a.b.c.d) by its address.
The audit trail keeps the exact address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPV6_GROUP_PREFIX = 64


def address_group(address: str | None) -> str:
    """The key a per-address limit counts under: ``192.0.2.7``, ``2001:db8:1:2::/64``,
    or the text itself (``unknown`` when empty) for something that is not an address."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_GROUP_PREFIX), strict=False))
    return str(parsed)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str | Iterable | None) -> tuple[Network, ...]:
    """``10.0.0.0/8, 2001:db8::/48, 192.0.2.7`` (or a list of them) as networks; networks
    already parsed stay as they are. ValueError names a bad one."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    networks = []
    for part in parts:
        if isinstance(part, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(part)
            continue
        part = str(part).strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an address or network") from None
    return tuple(networks)


def in_networks(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether the address (IPv4-mapped IPv6 read as IPv4) is in one of the networks."""
    if not address:
        return False
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed.version == net.version and parsed in net for net in networks)
