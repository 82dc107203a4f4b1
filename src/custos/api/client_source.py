"""Which address a request comes from: the source every per-source throttle and
risk signal counts (docs/abuse-resistance.md).

The socket peer is the source, unless the peer is one of the configured
``trusted_proxies``. Only then is ``X-Forwarded-For`` read, from the right:
each trusted proxy appends the address it received the request from, so the
right-most address that is not a trusted proxy is the first one a trusted hop
vouches for. Everything left of it was written by the client and may be
anything, which is why it is never used. With no trusted proxies (the
default) the header is ignored altogether, so rotating it changes nothing.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IpAddress = IPv4Address | IPv6Address
IpNetwork = IPv4Network | IPv6Network


def parse_address(text: str) -> IpAddress | None:
    """An address as proxies write it (``198.51.100.7``, ``2001:db8::1``,
    ``[2001:db8::1]:443``, ``198.51.100.7:51000``), IPv4-mapped IPv6 as IPv4;
    None when it is not an address."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has two colons or more
        text = text.partition(":")[0]
    try:
        found = ip_address(text)
    except ValueError:
        return None
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(address: IpAddress, proxies: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def source_address(
    peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[IpNetwork]
) -> str | None:
    """The request's source address.

    ``peer``: the socket peer (None when unknown); ``forwarded_for``: the values
    of every ``X-Forwarded-For`` header in order; ``proxies``: the trusted
    proxy networks. Returns the peer unless it is a trusted proxy; then the
    right-most forwarded address that is not a trusted proxy. When every
    forwarded address is a trusted proxy, the left-most of them; when an entry
    is not an address (a misconfigured proxy), the trusted hop that passed it
    on, so a client can never choose its own source."""
    if peer is None:
        return None
    current = parse_address(peer)
    if current is None or not _trusted(current, proxies):
        return peer if current is None else str(current)
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return str(current)
        current = address
        if not _trusted(address, proxies):
            return str(address)
    return str(current)
