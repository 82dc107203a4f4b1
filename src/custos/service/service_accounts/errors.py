"""Refusals of the service-account commands, each with a stable error id."""

from __future__ import annotations

from custos.domain.errors import InvalidInput, NotAuthorized, TokenInvalid


class NotServiceOwner(NotAuthorized):
    """Only an owner of the service account may request or confirm its rotation."""

    error_id = "not_service_owner"


class NotAServiceAccount(InvalidInput):
    error_id = "not_a_service_account"


class OwnerNotAPerson(InvalidInput):
    """An owner is a person: a subject of kind ``human``."""

    error_id = "owner_not_a_person"


class NoOwnerProofed(InvalidInput):
    """A rotation is issued only to an owner who proofed on the case."""

    error_id = "no_owner_proofed"


class SecretLinkInvalid(TokenInvalid):
    """The one-time link is unknown, used, lapsed or replaced."""

    error_id = "secret_link_invalid"
