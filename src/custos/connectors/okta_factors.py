"""Okta factors as the Management API lists them (``GET /api/v1/users/{id}/factors``,
``UserFactor``: ``id``, ``factorType``, ``provider``, ``status``) and the kinds
Custos spells them as (``ReadFactorsOp``).

Only ``ACTIVE`` factors count as bound: one ``PENDING_ACTIVATION`` was never
verified by its holder.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``factorType`` -> Custos's kind where one fits (a WebAuthn or U2F
#: authenticator is ``webauthn``; a software TOTP token is ``totp``); Okta's
#: own name otherwise (``push``, ``sms``, ``signed_nonce`` for Okta FastPass ...).
KINDS: dict[str, str] = {
    "webauthn": "webauthn",
    "u2f": "webauthn",
    "token:software:totp": "totp",
}


@dataclass(frozen=True, slots=True)
class Factor:
    factor_id: str
    factor_type: str
    provider: str
    status: str

    @property
    def kind(self) -> str:
        return KINDS.get(self.factor_type, self.factor_type)

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


def factor_from(item: object) -> Factor | None:
    """One entry of the factors list, or None when it is not one."""
    if not isinstance(item, dict):
        return None
    factor_id, factor_type = item.get("id"), item.get("factorType")
    if not isinstance(factor_id, str) or not isinstance(factor_type, str):
        return None
    return Factor(factor_id, factor_type, str(item.get("provider") or ""), str(item.get("status")))
