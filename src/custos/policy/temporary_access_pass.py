"""The ``temporary_access_pass`` section of a ``reissue`` tier
(docs/policy.md#temporary_access_pass): after a reissue removed the factors of
an account on a target that issues Temporary Access Passes (Entra ID), the
worker issues one there, so the subject can register new factors, and hands
it to the subject once through a one-time link."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

#: Graph's bounds on a pass's lifetime (``lifetimeInMinutes``: 10 minutes to 30 days).
MIN_LIFETIME_MINUTES = 10
MAX_LIFETIME_MINUTES = 43200


class TemporaryAccessPassSetting(BaseModel):
    """How long the pass lives, whether it works for one sign-in only, and
    whether the worker deletes it once the case completed and its lifetime ran
    out (a pass never handed to the subject is always deleted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lifetime_minutes: Annotated[
        StrictInt, Field(ge=MIN_LIFETIME_MINUTES, le=MAX_LIFETIME_MINUTES)
    ] = 60
    usable_once: StrictBool = True
    delete_on_completion: StrictBool = False


def explain_pass(setting: TemporaryAccessPassSetting, issuers: list[str]) -> str:
    """What ``custos policy check`` says of a tier's setting."""
    uses = "one sign-in" if setting.usable_once else "any number of sign-ins"
    cleanup = (
        "deleted once the case completed and its lifetime ran out"
        if setting.delete_on_completion
        else "deleted only when it never reached the subject or the case did not complete"
    )
    return (
        f"after the factors are removed, a Temporary Access Pass on {', '.join(issuers)} "
        f"({setting.lifetime_minutes} min, {uses}), sent to the subject once through a "
        f"one-time link; {cleanup}"
    )
