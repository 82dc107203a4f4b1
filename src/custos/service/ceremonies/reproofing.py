"""Re-proofing a subject with a provider's signed result (R-4, R-9..R-11), and
recording the proofed core attributes a later re-proofing must match.

The JWT is verified (signature, issuer, audience, algorithm) by ``svc.idv``;
its claims are typed and judged by :mod:`custos.proofing.reproofing`. Every
check, passed or not, is one ``proofing:reproofing:checked`` ledger event with
the reason (never the token or an attribute value, R-37).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from custos.domain.errors import InvalidInput, NotFound
from custos.domain.events import EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case, Subject
from custos.proofing import reproofing
from custos.proofing.reproofing import ReproofingRejected
from custos.service.enrolment import subject_sessions
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

ATTRIBUTE_KEY_PURPOSE = "custos/proofed-attributes/v1"


def attribute_key(svc: Services) -> bytes:
    """The HMAC key of proofed-attribute digests (a subkey of the master key)."""
    return svc.key.subkey(ATTRIBUTE_KEY_PURPOSE)


def record_proofed_attributes(
    svc: Services, subject_id: str, attributes: Mapping[str, str], *, ial: int
) -> None:
    """Store the core attributes ``subject_id`` was proofed with (as digests
    only) and the IAL reached. Replaces any earlier set. Raises NotFound for an
    unknown subject and InvalidInput for an empty set, a bad name or IAL."""
    if ial not in (1, 2, 3) or not attributes:
        raise InvalidInput("give at least one attribute and an IAL of 1, 2 or 3")
    key = attribute_key(svc)
    try:
        digests = {
            name: reproofing.attribute_digest(key, subject_id=subject_id, name=name, value=value)
            for name, value in attributes.items()
        }
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    now = svc.clock.now()
    with svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        if subject is None:
            raise NotFound(f"no subject '{subject_id}'", subject_id=subject_id)
        subject.ial = ial
        uow.subjects.update(subject)
        uow.proofed_attributes.replace(subject_id, digests, now=now)
        uow.commit()


def verify(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, token: str, now: datetime
) -> bool:
    """Whether ``token`` re-proofs ``subject`` for ``case``. A result whose
    signature checks out is spent at once (its ``jti`` stored), whatever the
    verdict, so no result counts twice. Records the verdict on the case; a pass
    lifts the subject's R-45 bind demand."""
    provider: str | None = None
    try:
        verified = svc.idv.verify(token)
        provider = verified.provider
        result = reproofing.parse_claims(verified.claims)
        jti_digest = hashlib.sha256(result.jti.encode("utf-8")).hexdigest()
        if not uow.used_jtis.use(
            issuer=result.issuer,
            jti_digest=jti_digest,
            case_id=case.id,
            now=now,
            expires_at=max(result.expires_at, now),
        ):
            raise ReproofingRejected("this result was used before (replay)")
        reproofing.check_result(
            result,
            now=now,
            max_age=timedelta(seconds=verified.config.max_token_age_s),
            account_ial=subject.ial,
            min_ial=case.requirements.min_ial,
        )
        wrong = reproofing.mismatched_attributes(
            attribute_key(svc),
            subject_id=subject.id,
            stored=uow.proofed_attributes.of(subject.id),
            claimed=result.attributes,
        )
        if wrong:
            raise ReproofingRejected(
                f"core attributes do not match the account: {', '.join(wrong)} (R-4)"
            )
    except ReproofingRejected as exc:
        case.emit(
            EventType.REPROOFING_CHECKED,
            at=now,
            actor=SYSTEM_ACTOR,
            outcome=Outcome.FAILURE,
            reason=exc.reason,
            data={"provider": provider},
        )
        return False
    case.emit(
        EventType.REPROOFING_CHECKED,
        at=now,
        actor=SYSTEM_ACTOR,
        data={
            "provider": provider,
            "ial": result.ial,
            "attended": result.attended,
            "biometric_comparison": result.biometric_comparison,
            "evidence": [e.effective.name for e in result.evidence],
            "attributes_matched": sorted(uow.proofed_attributes.of(subject.id)),
        },
    )
    # re-proofing is the other way out of the bind demand an agent-assisted
    # recovery left (a later agent-assisted completion sets it again).
    subject_sessions.satisfy_bind(uow, subject.id, now=now, by="re-proofing")
    return True
