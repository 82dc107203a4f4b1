"""Operator authentication: ``Authorization: Bearer cop_...``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from custos.api.client_source import source_address
from custos.api.errors import Unauthenticated
from custos.api.strict_input import authenticates
from custos.domain.errors import NotAuthorized
from custos.domain.model import Operator
from custos.oversight.refusals import RefusalKind
from custos.service.oversight import refusals
from custos.service.ports import Services
from custos.service.recovery.operators import authenticate


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


@authenticates
def current_operator(request: Request, svc: ServicesDep) -> Operator:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("send an operator token as 'Authorization: Bearer <token>'")
    try:
        return authenticate(svc, token.strip())
    except NotAuthorized as exc:
        # Nobody can be named for a token that fails: one actor for all.
        refusals.record(
            svc,
            actor=refusals.ANONYMOUS,
            kind=RefusalKind.API_TOKEN,
            action=f"{request.method} {request.url.path}"[:200],
            error_id=exc.error_id,
        )
        raise Unauthenticated(exc.message) from exc


OperatorDep = Annotated[Operator, Depends(current_operator)]


def client_address(request: Request) -> str | None:
    """The request's source address: the socket peer, or what a configured
    trusted proxy forwarded (custos.api.client_source). None when unknown."""
    svc: Services = request.app.state.services
    return source_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        svc.settings.trusted_proxies,
    )
