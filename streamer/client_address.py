"""Who is connecting: the client address a per-source limit can trust.

Each proxy in front of the streamer appends the address it was connected from to X-Forwarded-For
(the ALB in its default `append` mode; CloudFront likewise, before the ALB appends CloudFront's own
address). Everything left of what our own proxies appended is whatever the client sent, so with
TRUSTED_PROXY_HOPS proxies in front the client is the entry that many places from the right: 1 for
the ALB alone, 2 for CloudFront then the ALB (docs/streamer.md, "Who is connecting"). With none (a
local run) it is the TCP peer. A change must never take an entry left of that position.
"""

from __future__ import annotations

import ipaddress

FORWARDED_FOR = "X-Forwarded-For"
# One IPv6 subscriber is given at least a /64: addresses inside one are one source.
IPV6_SOURCE_PREFIX = 64
_MAX_KEY_CHARS = 64


def client_address(forwarded_for: list[str], peer: str | None, trusted_hops: int) -> str:
    """The client's address as the `trusted_hops`-th proxy from the streamer saw it.

    `forwarded_for` holds the X-Forwarded-For header values in the order received (several header
    lines read as one list). Fewer entries than trusted proxies means the request did not come through
    them (or they are set up otherwise than configured): the peer address is used then."""
    if trusted_hops > 0:
        entries = [entry.strip() for value in forwarded_for for entry in value.split(",")]
        if len(entries) >= trusted_hops and (entry := entries[-trusted_hops]):
            return source_key(entry)
    return source_key(peer or "unknown")


def source_key(address: str) -> str:
    """One key per source: an IPv4 address, or an IPv6 address's /64 (IPv4-mapped ones as IPv4).
    Anything that is not an address is kept as written (bounded), so it still counts as one source."""
    try:
        parsed = ipaddress.ip_address(_without_port(address))
    except ValueError:
        return address[:_MAX_KEY_CHARS]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_SOURCE_PREFIX), strict=False))
    return str(parsed)


def _without_port(address: str) -> str:
    """`[v6]:port` and `v4:port` (an ALB with `xff_client_port` on) without the port."""
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address
