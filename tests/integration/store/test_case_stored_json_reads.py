"""Cases are read with their JSON columns as the stored text, decoded once per
text (``mapping.stored_json``): on SQLite and PostgreSQL a case so read equals
the case read through the columns' JSON type, and cases that share their
requirements share one decoded value (the requirements frozen on a case, R-32)."""

from __future__ import annotations

from recoveries import self_service_recovery
from sqlalchemy import select

from conftest import World
from custos.store.mapping import case_from_rows
from custos.store.tables import cases


def test_a_case_read_from_stored_json_equals_the_json_typed_read(world: World) -> None:
    ids = []
    for name in ("hana", "ivo"):
        world.subject(name)
        ids.append(self_service_recovery(world, name))
    with world.svc.uow(read_only=True) as uow:
        typed = {
            r.id: case_from_rows(r, [], [])
            for r in uow.conn.execute(select(cases).where(cases.c.id.in_(ids)))
        }
        many = uow.cases.get_many(ids)
        single = {case_id: uow.cases.get(case_id) for case_id in ids}
    assert isinstance(typed[ids[0]].requirements.post_checks, tuple)
    for case_id in ids:
        assert many[case_id] == typed[case_id]
        assert single[case_id].requirements == typed[case_id].requirements
        assert single[case_id].risk == typed[case_id].risk
    # Same tier and policy: the same stored text, one decoded value.
    assert many[ids[0]].requirements is many[ids[1]].requirements
