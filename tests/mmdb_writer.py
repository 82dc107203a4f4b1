"""A minimal MaxMind DB (MMDB v2) writer for tests: an IPv4 search tree with
24-bit records, a data section and the metadata map, per the published
format specification (https://maxmind.github.io/MaxMind-DB/). Enough to give the
real ``maxminddb`` reader a few networks with coordinates."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from pathlib import Path

_MARKER = b"\xab\xcd\xefMaxMind.com"


@dataclass(frozen=True)
class UInt:
    """An unsigned integer of a given MMDB type: 5 (uint16), 6 (uint32), 9 (uint64)."""

    value: int
    type: int


def _control(type_: int, size: int) -> bytes:
    assert size < 29, "tests only need short values"
    if type_ <= 7:
        return bytes([(type_ << 5) | size])
    return bytes([size, type_ - 7])


def encode(value: object) -> bytes:
    if isinstance(value, UInt):
        raw = value.value.to_bytes((value.value.bit_length() + 7) // 8, "big")
        return _control(value.type, len(raw)) + raw
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, dict):
        out = _control(7, len(value))
        for key, item in value.items():
            out += encode(str(key)) + encode(item)
        return out
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(type(value))


def city(lat: float, lon: float, country: str) -> dict[str, object]:
    return {"country": {"iso_code": country}, "location": {"latitude": lat, "longitude": lon}}


def write_mmdb(path: Path, networks: dict[str, dict[str, object]]) -> Path:
    """Write an IPv4 database mapping each CIDR of ``networks`` to its record."""
    data = b""
    nodes: list[list[tuple[str, int] | None]] = [[None, None]]
    for cidr, value in networks.items():
        offset, data = len(data), data + encode(value)
        net = ipaddress.ip_network(cidr)
        bits, node = int(net.network_address), 0
        for depth in range(net.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == net.prefixlen - 1:
                nodes[node][bit] = ("data", offset)
                break
            child = nodes[node][bit]
            if child is None:
                nodes.append([None, None])
                child = ("node", len(nodes) - 1)
                nodes[node][bit] = child
            node = child[1]
    count = len(nodes)

    def record(ref: tuple[str, int] | None) -> bytes:
        value = count if ref is None else ref[1] if ref[0] == "node" else count + 16 + ref[1]
        return value.to_bytes(3, "big")

    tree = b"".join(record(left) + record(right) for left, right in nodes)
    metadata = {
        "binary_format_major_version": UInt(2, 5),
        "binary_format_minor_version": UInt(0, 5),
        "build_epoch": UInt(1_700_000_000, 9),
        "database_type": "Custos-Test-City",
        "description": {"en": "test networks"},
        "ip_version": UInt(4, 5),
        "languages": ["en"],
        "node_count": UInt(count, 6),
        "record_size": UInt(24, 5),
    }
    path.write_bytes(tree + b"\x00" * 16 + data + _MARKER + encode(metadata))
    return path
