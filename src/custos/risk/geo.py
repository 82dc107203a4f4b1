"""Geography for the geo-velocity signal: points, great-circle distance, and the
:class:`GeoLookup` protocol an address database implements (the MaxMind reader
in ``custos.store.geoip``). Pure: no file or network access here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A place on Earth in decimal degrees; ``country`` is an ISO 3166 code or ""."""

    latitude: float
    longitude: float
    country: str = ""

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValueError(f"({self.latitude}, {self.longitude}) is not a coordinate")


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when a subject's earlier request came from."""

    point: GeoPoint
    at: datetime


class GeoLookup(Protocol):
    def locate(self, address: str) -> GeoPoint | None:
        """The location of ``address``, or None when it is unknown, private or
        malformed. Never raises for a bad address."""
        ...


def distance_km(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance (haversine) in kilometres."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def speed_kmh(before: Sighting, now_point: GeoPoint, now: datetime) -> float:
    """The speed needed to go from ``before`` to ``now_point`` by ``now``; at least
    one minute is assumed so two requests at the same instant stay finite."""
    hours = max((now - before.at).total_seconds(), 60.0) / 3600
    return distance_km(before.point, now_point) / hours
