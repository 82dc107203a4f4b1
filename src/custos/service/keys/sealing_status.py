"""``custos keys status``: the sealing key ring (ids only), its store, the last
rotation, and how many sealed values name each key."""

from __future__ import annotations

from typing import Any

from custos.keystore.live import LiveKeys
from custos.service.ports import Services
from custos.store import sealed_inventory as inventory
from custos.store import sealing_rotation_repository as rotations


def sealed_counts(svc: Services) -> dict[str, dict[str, int]]:
    """Per sealed column (``table.column``): values by the key id they name
    (``legacy``: written before keys had ids). Columns without values are left out."""
    with svc.uow(read_only=True) as uow:
        counts = {
            col.name: inventory.count_by_key(uow.conn, col) for col in inventory.SEALED_COLUMNS
        }
    return {name: by_key for name, by_key in counts.items() if by_key}


def sealing_status(svc: Services, live: LiveKeys) -> dict[str, Any]:
    """What ``keys status`` shows; never key material."""
    ring = live.refreshed()
    with svc.uow(read_only=True) as uow:
        last = rotations.latest(uow.conn)
    return {
        "key_store": live.store.description,
        "primary_key_id": ring.primary.key_id,
        "readable_key_ids": [k.key_id for k in ring.readable],
        "carried_purposes": sorted(ring.carried),
        "rotation": None
        if last is None
        else {
            "id": last.id,
            "state": last.state,
            "new_key_id": last.new_key_id,
            "old_key_ids": last.old_key_ids,
            "retired_copy": last.retired_copy,
            "resealed": last.resealed,
            "started_at": last.started_at.isoformat(),
            "finished_at": last.finished_at.isoformat() if last.finished_at else None,
        },
        "sealed_values": sealed_counts(svc),
    }
