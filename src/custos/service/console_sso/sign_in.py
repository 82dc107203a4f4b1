"""The provider's answer at the callback, from state to operator.

Every refusal is a structured log line (error id, reason, issuer, name, source;
never a code or a token). A refusal past the state check (the answer belongs to
a sign-in this browser started) is also a ledger event
``auth:operator:sign_in_failed`` with ``method: oidc``; an answer without a valid
state is only logged, so that anyone's made-up requests cannot fill the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import Operator
from custos.oversight.refusals import RefusalKind
from custos.service.console_sso.attempts import derived_secrets, redirect_uri, relying_party, take
from custos.service.console_sso.provisioning import ACTOR, admit
from custos.service.oversight import refusals
from custos.service.ports import Services
from custos.sso.errors import (
    NoRoleMapped,
    OperatorConflict,
    OperatorDisabled,
    ProviderRefused,
    SsoFailed,
    SsoStateInvalid,
)
from custos.sso.relying_party import SsoIdentity, oauth_error_code

log = structlog.get_logger("custos.console.sso")

#: Refusals that are an access decision about a person, not a failure of the flow.
DENIALS = (NoRoleMapped, OperatorDisabled, OperatorConflict)


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """The query of the callback, as the provider sent the browser back."""

    state: str | None
    code: str | None
    error: str | None
    #: RFC 9207: the issuer of the answer, when the provider sends it.
    iss: str | None


@dataclass(frozen=True, slots=True)
class SsoSignIn:
    operator: Operator
    #: Where the operator asked to go (a path on this site).
    return_to: str


def finish(
    svc: Services, answer: ProviderAnswer, *, binding: str | None, source: str | None
) -> SsoSignIn:
    """The operator the answer signs in. Raises NotFound (not configured) or an
    SsoFailed: SsoStateInvalid, ProviderRefused, ProviderUnavailable,
    IdTokenInvalid, ClaimsInvalid, NoRoleMapped, OperatorDisabled, OperatorConflict."""
    party = relying_party(svc)
    try:
        attempt = take(svc, state=answer.state, binding=binding)
    except SsoStateInvalid as exc:
        _log(exc, issuer=party.config.issuer, identity=None, source=source)
        raise
    assert answer.state is not None
    identity: SsoIdentity | None = None
    try:
        if answer.iss is not None and answer.iss != party.config.issuer:
            # A mix-up attack sends the code of another provider here (RFC 9207).
            raise ProviderRefused("the answer comes from another identity provider")
        if answer.error is not None:
            raise ProviderRefused(
                f"the identity provider ended the sign-in ({oauth_error_code(answer.error)})"
            )
        if not answer.code:
            raise ProviderRefused("the identity provider's answer holds no code")
        nonce, verifier = derived_secrets(svc, answer.state)
        identity = party.redeem(
            code=answer.code, code_verifier=verifier, nonce=nonce, redirect_uri=redirect_uri(svc)
        )
        operator = admit(svc, identity)
    except SsoFailed as exc:
        _log(exc, issuer=party.config.issuer, identity=identity, source=source)
        _record(svc, exc, issuer=party.config.issuer, identity=identity, source=source)
        raise
    return SsoSignIn(operator=operator, return_to=attempt.return_to)


def _log(exc: SsoFailed, *, issuer: str, identity: SsoIdentity | None, source: str | None) -> None:
    log.warning(
        "console_sso_refused",
        error_id=exc.error_id,
        reason=exc.details.get("reason"),
        issuer=issuer,
        name=identity.username if identity else None,
        source=source,
    )


def _record(
    svc: Services,
    exc: SsoFailed,
    *,
    issuer: str,
    identity: SsoIdentity | None,
    source: str | None,
) -> None:
    with svc.uow() as uow:
        # Counted in the sign-in refusal window too (R-36, docs/oversight.md).
        refusals.count_in_window(
            svc, uow, actor=ACTOR, kind=RefusalKind.SIGN_IN, now=svc.clock.now()
        )
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.OPERATOR_SIGN_IN_FAILED,
                    occurred_at=svc.clock.now(),
                    actor=ACTOR,
                    subject_id=None,
                    case_id=None,
                    outcome=Outcome.DENIED if isinstance(exc, DENIALS) else Outcome.FAILURE,
                    reason=exc.message,
                    data={
                        "method": "oidc",
                        "error": exc.error_id,
                        "issuer": issuer,
                        "name": identity.username if identity else None,
                        "provider_subject": identity.subject if identity else None,
                        "source": source,
                    },
                )
            ]
        )
        uow.commit()
