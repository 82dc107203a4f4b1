"""A :class:`~custos.risk.geo.GeoLookup` over a MaxMind DB file (GeoLite2-City,
GeoIP2-City or any database with ``location.latitude``/``longitude``), read with
the ``maxminddb`` package."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import maxminddb

from custos.config import ConfigError
from custos.risk.geo import GeoPoint


class MaxMindLookup:
    """Opens the database once; lookups are thread-safe reads of the mapped file."""

    def __init__(self, path: Path) -> None:
        try:
            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ConfigError(f"cannot open GeoIP database {path}: {exc}") from exc

    def locate(self, address: str) -> GeoPoint | None:
        """The record's coordinates and country, or None for a malformed, private or
        unlisted address or a record without coordinates."""
        try:
            ip = ipaddress.ip_address(address)
            record: Any = self._reader.get(ip)
        except (ValueError, TypeError):
            return None
        if not isinstance(record, dict):
            return None
        location = record.get("location")
        if not isinstance(location, dict):
            return None
        lat, lon = location.get("latitude"), location.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return None
        country = record.get("country")
        iso = country.get("iso_code", "") if isinstance(country, dict) else ""
        try:
            return GeoPoint(float(lat), float(lon), str(iso))
        except ValueError:
            return None

    def close(self) -> None:
        self._reader.close()
