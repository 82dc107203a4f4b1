"""Who did something, in words a person reads on a page: an operator by name,
the subject by their display name, Custos itself; any other actor as recorded."""

from __future__ import annotations

from collections.abc import Mapping

from custos.domain.model import SYSTEM_ACTOR, subject_actor
from custos.store.unit_of_work import UnitOfWork


def operator_names(uow: UnitOfWork) -> dict[str, str]:
    """Every operator's actor id (``operator:<id>``) and name."""
    return {op.actor: op.name for op in uow.operators.all()}


def label(
    actor: str | None,
    names: Mapping[str, str],
    *,
    subject_id: str | None = None,
    subject_name: str | None = None,
) -> str:
    """``actor`` for a person: the operator's name, "the subject (Name)", "Custos
    (automatic)" or "Custos (post checks)" for Custos itself, else the actor id
    as recorded (a CLI, a worker)."""
    if not actor:
        return "-"
    if actor in names:
        return names[actor]
    if subject_id is not None and actor == subject_actor(subject_id):
        return f"the subject ({subject_name or subject_id})"
    if actor == SYSTEM_ACTOR:
        return "Custos (automatic)"
    if actor.startswith("system:"):
        return f"Custos ({actor.removeprefix('system:').replace('_', ' ')})"
    return actor
