"""Who may open the console's administration pages (docs/console.md#administration):
operators with the admin role, and nobody else."""

from __future__ import annotations

from custos.domain.errors import NotAuthorized
from custos.domain.model import Operator, Role


def require_admin(operator: Operator) -> None:
    """Raises NotAuthorized unless ``operator`` is an active admin."""
    if not (operator.active and Role.ADMIN in operator.roles):
        raise NotAuthorized("the administration pages are for operators with the admin role")
