"""Signed tree heads: made on demand (``custos audit head``) and on a schedule
(the worker calls :func:`sign_tree_head_if_due`), stored in ``tree_heads`` and
published to the witnesses (R-38)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select

from custos.ledger import witness
from custos.ledger.signing import KeyRing, NoLedgerKey, TreeHead, sign_head
from custos.ledger.tree_store import StoredTree
from custos.service.ports import Services
from custos.store.tables import tree_heads


def key_ring(svc: Services) -> KeyRing:
    return KeyRing(svc.settings.effective_ledger_keys_dir)


def stored_heads(conn: Connection) -> list[TreeHead]:
    """Every stored head, oldest first."""
    rows = conn.execute(select(tree_heads).order_by(tree_heads.c.id))
    return [
        TreeHead(int(r.tree_size), r.root_hash, r.signed_at, r.key_id, r.signature) for r in rows
    ]


def latest_head(conn: Connection, *, max_size: int | None = None) -> TreeHead | None:
    """The newest head (the biggest tree, then the latest signature), or None.
    With ``max_size``, the newest head no bigger than that."""
    query = select(tree_heads).order_by(tree_heads.c.tree_size.desc(), tree_heads.c.id.desc())
    if max_size is not None:
        query = query.where(tree_heads.c.tree_size <= max_size)
    r = conn.execute(query.limit(1)).first()
    if r is None:
        return None
    return TreeHead(int(r.tree_size), r.root_hash, r.signed_at, r.key_id, r.signature)


def head_at(conn: Connection, size: int) -> TreeHead | None:
    """The newest head signed at exactly ``size``, or None."""
    r = conn.execute(
        select(tree_heads)
        .where(tree_heads.c.tree_size == size)
        .order_by(tree_heads.c.id.desc())
        .limit(1)
    ).first()
    if r is None:
        return None
    return TreeHead(int(r.tree_size), r.root_hash, r.signed_at, r.key_id, r.signature)


def sign_tree_head(svc: Services) -> TreeHead:
    """Sign the current tree with the active key, store the head and publish it
    to the witnesses. Raises NoLedgerKey when the key ring is empty."""
    key = key_ring(svc).active()
    with svc.uow() as uow:
        tree = StoredTree(uow.conn)
        size = tree.size()
        head = sign_head(key, size, tree.root(size), svc.clock.now())
        uow.conn.execute(tree_heads.insert().values(**head.to_json()))
        uow.commit()
    witness.publish(svc.settings, head)
    return head


def sign_tree_head_if_due(svc: Services) -> int:
    """Sign a head when the tree grew and ``ledger_head_interval_s`` passed since
    the last one; returns 1 when it signed, else 0. Without a key, does nothing."""
    with svc.uow() as uow:
        size = StoredTree(uow.conn).size()
        last = latest_head(uow.conn)
    if size == 0 or (last is not None and last.tree_size >= size):
        return 0
    interval = timedelta(seconds=svc.settings.ledger_head_interval_s)
    if last is not None and svc.clock.now() - parse_time(last.signed_at) < interval:
        return 0
    try:
        sign_tree_head(svc)
    except NoLedgerKey:
        return 0
    return 1


def parse_time(value: str) -> datetime:
    """The UTC instant of a ``signed_at`` string (``...%fZ``)."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
