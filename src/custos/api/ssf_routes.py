"""Custos as an OpenID Shared Signals transmitter (R-31, docs/shared-signals.md):
the public metadata and JWKS, and the stream management API (SSF §8.1) for
operators holding the admin role. Invalid requests answer 422
``invalid_input`` like the rest of the API (SSF names 400)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from custos.api.auth import OperatorDep, ServicesDep
from custos.api.ssf_schemas import (
    DeliveryIn,
    Jwks,
    StatusIn,
    StatusOut,
    StreamChange,
    StreamCreate,
    StreamOut,
    TransmitterMetadata,
    VerifyIn,
)
from custos.service.shared_signals import streams, transmitter
from custos.service.shared_signals.streams import Change, Delivery

well_known_router = APIRouter(tags=["shared signals"])
router = APIRouter(prefix="/api/v1/ssf", tags=["shared signals"])

StreamQuery = Annotated[str, Query(min_length=1, max_length=64)]


@well_known_router.get("/.well-known/ssf-configuration", response_model=TransmitterMetadata)
def ssf_configuration(svc: ServicesDep) -> dict[str, Any]:
    """The Transmitter Configuration Metadata (SSF §7)."""
    return transmitter.configuration(svc)


@router.get("/jwks", response_model=Jwks)
def jwks(svc: ServicesDep) -> dict[str, Any]:
    """The public keys SETs are signed with (the newest signs)."""
    return transmitter.jwks(svc)


def _delivery(given: DeliveryIn | None) -> Delivery | None:
    if given is None:
        return None
    return Delivery(
        endpoint_url=given.endpoint_url,
        authorization=given.authorization_header,
        method=given.method,
    )


def _audience(given: str | list[str] | None) -> tuple[str, ...] | None:
    if given is None:
        return None
    return (given,) if isinstance(given, str) else tuple(given)


@router.post(
    "/streams", status_code=201, response_model=StreamOut, response_model_exclude_none=True
)
def create_stream(body: StreamCreate, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    """Create a push stream (admin role). ``aud`` is a Custos extension: the
    audience of the stream's SETs, by default the endpoint's origin."""
    actor = streams.as_admin(operator)
    stream = streams.create(
        svc,
        actor=actor,
        delivery=_delivery(body.delivery),
        events_requested=None if body.events_requested is None else tuple(body.events_requested),
        description=body.description,
        audience=_audience(body.aud),
    )
    return streams.configuration(svc, stream)


@router.get(
    "/streams", response_model=StreamOut | list[StreamOut], response_model_exclude_none=True
)
def read_streams(
    svc: ServicesDep, operator: OperatorDep, stream_id: StreamQuery | None = None
) -> dict[str, Any] | list[dict[str, Any]]:
    """One stream's configuration, or every stream's without ``stream_id``."""
    streams.as_admin(operator)
    if stream_id is not None:
        return streams.configuration(svc, streams.get(svc, stream_id))
    return [streams.configuration(svc, s) for s in streams.all_streams(svc)]


def _change(body: StreamChange, svc: ServicesDep, operator: OperatorDep, *, replace: bool) -> Any:
    actor = streams.as_admin(operator)
    given = body.model_fields_set
    change = Change(
        present=frozenset(given & {"delivery", "events_requested", "description"}),
        delivery=_delivery(body.delivery),
        events_requested=None if body.events_requested is None else tuple(body.events_requested),
        description=body.description,
    )
    expected: dict[str, object] = {
        name: getattr(body, name) for name in streams.TRANSMITTER_SUPPLIED if name in given
    }
    stream = streams.update(
        svc,
        actor=actor,
        stream_id=body.stream_id,
        change=change,
        expected=expected,
        replace_all=replace,
    )
    return streams.configuration(svc, stream)


@router.patch("/streams", response_model=StreamOut, response_model_exclude_none=True)
def update_stream(body: StreamChange, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    """Change the receiver-supplied properties the body holds; the others stay.
    A ``delivery`` given replaces the whole delivery (its authorization header too)."""
    updated: dict[str, Any] = _change(body, svc, operator, replace=False)
    return updated


@router.put("/streams", response_model=StreamOut, response_model_exclude_none=True)
def replace_stream(body: StreamChange, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    """Replace the receiver-supplied properties: those absent are removed."""
    replaced: dict[str, Any] = _change(body, svc, operator, replace=True)
    return replaced


@router.delete("/streams", status_code=204, response_class=Response)
def delete_stream(svc: ServicesDep, operator: OperatorDep, stream_id: StreamQuery) -> Response:
    """Delete a stream; the SETs waiting for it are dropped."""
    streams.delete(svc, actor=streams.as_admin(operator), stream_id=stream_id)
    return Response(status_code=204)


@router.get("/status", response_model=StatusOut, response_model_exclude_none=True)
def read_status(svc: ServicesDep, operator: OperatorDep, stream_id: StreamQuery) -> dict[str, Any]:
    streams.as_admin(operator)
    return streams.status_view(streams.get(svc, stream_id))


@router.post("/status", response_model=StatusOut, response_model_exclude_none=True)
def update_status(body: StatusIn, svc: ServicesDep, operator: OperatorDep) -> dict[str, Any]:
    """``enabled``, ``paused`` (SETs are held until enabled) or ``disabled``
    (SETs waiting are dropped and none are written)."""
    stream = streams.set_status(
        svc,
        actor=streams.as_admin(operator),
        stream_id=body.stream_id,
        status=body.status,
        reason=body.reason,
    )
    return streams.status_view(stream)


@router.post("/verify", status_code=204, response_class=Response)
def verify(body: VerifyIn, svc: ServicesDep, operator: OperatorDep) -> Response:
    """Queue a verification event echoing ``state``; the worker pushes it."""
    streams.request_verification(
        svc, actor=streams.as_admin(operator), stream_id=body.stream_id, state=body.state
    )
    return Response(status_code=204)
