"""Bodies of the shared-signals endpoints, with SSF 1.0's field names
(docs/shared-signals.md). The push ``authorization_header`` is accepted and
never answered."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from custos.api.schemas import RequestBody
from custos.domain.shared_signals import StreamStatus

StreamId = Annotated[str, Field(min_length=1, max_length=64)]
EventUri = Annotated[str, Field(min_length=1, max_length=300)]
AudienceValue = Annotated[str, Field(min_length=1, max_length=500)]
Audience = AudienceValue | Annotated[list[AudienceValue], Field(min_length=1, max_length=10)]
Events = Annotated[list[EventUri], Field(max_length=20)]


class DeliveryIn(RequestBody):
    method: str = Field(min_length=1, max_length=200, examples=["urn:ietf:rfc:8935"])
    endpoint_url: str = Field(min_length=1, max_length=2000)
    #: The exact Authorization header value of every push (a secret: never answered).
    authorization_header: str | None = Field(default=None, min_length=1, max_length=4096)


class StreamCreate(RequestBody):
    delivery: DeliveryIn | None = None
    events_requested: Events | None = None
    description: str | None = Field(default=None, max_length=2000)
    #: A Custos extension: the stream's audience (default: the endpoint's origin).
    aud: Audience | None = None


class StreamChange(RequestBody):
    """An update (PATCH: absent properties stay) or a replacement (PUT: absent
    receiver-supplied properties are removed). Transmitter-supplied properties
    may be repeated; they must match."""

    stream_id: StreamId
    delivery: DeliveryIn | None = None
    events_requested: Events | None = None
    description: str | None = Field(default=None, max_length=2000)
    iss: str | None = Field(default=None, max_length=2000)
    aud: Audience | None = None
    events_supported: Events | None = None
    events_delivered: Events | None = None
    min_verification_interval: int | None = Field(default=None, ge=0, le=2**31 - 1)


class DeliveryOut(BaseModel):
    method: str
    endpoint_url: str


class StreamOut(BaseModel):
    stream_id: str
    iss: str
    aud: str | list[str]
    delivery: DeliveryOut
    events_supported: list[str]
    events_requested: list[str]
    events_delivered: list[str]
    min_verification_interval: int
    description: str | None = None


class StatusIn(RequestBody):
    stream_id: StreamId
    status: StreamStatus
    reason: str | None = Field(default=None, max_length=300)


class StatusOut(BaseModel):
    stream_id: str
    status: Literal["enabled", "paused", "disabled"]
    reason: str | None = None


class VerifyIn(RequestBody):
    stream_id: StreamId
    state: str | None = Field(default=None, max_length=1000)


class AuthorizationScheme(BaseModel):
    spec_urn: str


class TransmitterMetadata(BaseModel):
    spec_version: str
    issuer: str
    jwks_uri: str
    delivery_methods_supported: list[str]
    configuration_endpoint: str
    status_endpoint: str
    verification_endpoint: str
    authorization_schemes: list[AuthorizationScheme]
    default_subjects: Literal["ALL", "NONE"]


class Jwk(BaseModel):
    """A public key (RFC 7517); members beyond these depend on ``kty``."""

    model_config = ConfigDict(extra="allow")
    kty: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]
