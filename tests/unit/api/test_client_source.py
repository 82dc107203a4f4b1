"""The source address of a request (custos.api.client_source): the socket
peer, unless the peer is a configured trusted proxy; then the right-most
X-Forwarded-For address that is not a trusted proxy (R-19, R-20: the source
every per-source throttle counts)."""

from __future__ import annotations

from ipaddress import ip_network

from custos.api.client_source import parse_address, source_address

LOOPBACK = [ip_network("127.0.0.1/32")]
CHAIN = [ip_network("10.0.0.0/8"), ip_network("2001:db8:aa::/48")]


def test_forwarded_for_is_ignored_without_trusted_proxies() -> None:
    assert source_address("127.0.0.1", ["203.0.113.9"], []) == "127.0.0.1"
    assert source_address("198.51.100.4", ["203.0.113.9"], []) == "198.51.100.4"


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    assert source_address("198.51.100.4", ["203.0.113.9"], LOOPBACK) == "198.51.100.4"


def test_right_most_untrusted_address_is_taken_from_a_trusted_peer() -> None:
    """Entries left of the first untrusted one were written by the client."""
    assert source_address("127.0.0.1", ["203.0.113.9"], LOOPBACK) == "203.0.113.9"
    spoofed = ["1.2.3.4, 198.51.100.7, 10.0.0.5", "10.1.2.3"]
    assert source_address("10.9.9.9", spoofed, CHAIN) == "198.51.100.7"
    assert source_address("10.9.9.9", ["198.51.100.7, 2001:db8:aa::5"], CHAIN) == "198.51.100.7"


def test_trusted_peer_without_header_is_the_source() -> None:
    assert source_address("127.0.0.1", [], LOOPBACK) == "127.0.0.1"
    assert source_address("10.0.0.1", ["10.0.0.2, 10.0.0.3"], CHAIN) == "10.0.0.2"


def test_garbage_in_the_header_never_becomes_the_source() -> None:
    """A client cannot choose an arbitrary string as its source: an entry that
    is not an address stops the walk at the trusted hop that passed it on."""
    assert source_address("127.0.0.1", ["not-an-ip"], LOOPBACK) == "127.0.0.1"
    assert source_address("10.0.0.1", ["198.51.100.7, bogus, 10.0.0.2"], CHAIN) == "10.0.0.2"
    assert source_address("10.0.0.1", [" , "], CHAIN) == "10.0.0.1"


def test_addresses_are_normalised() -> None:
    assert parse_address("[2001:DB8::1]:443") is not None
    assert str(parse_address("[2001:DB8::1]:443")) == "2001:db8::1"
    assert str(parse_address("198.51.100.7:51000")) == "198.51.100.7"
    assert str(parse_address("::ffff:127.0.0.1")) == "127.0.0.1"
    assert parse_address("localhost") is None
    assert source_address("::ffff:127.0.0.1", ["203.0.113.9"], LOOPBACK) == "203.0.113.9"
    assert source_address(None, ["203.0.113.9"], LOOPBACK) is None
    assert source_address("testclient", ["203.0.113.9"], LOOPBACK) == "testclient"
