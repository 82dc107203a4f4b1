"""Cases are read with their JSON columns as the stored text, decoded once per
text (``mapping.stored_json``): on SQLite and PostgreSQL a case so read equals
the case read through the columns' JSON type, and cases that share their
requirements share one decoded value (the requirements frozen on a case, R-32)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from recoveries import self_service_recovery
from sqlalchemy import Text, cast, select

from conftest import World
from custos.store.mapping import FROZEN_CASE_COLUMNS, case_from_rows
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


def _stored_text(world: World, case_id: str) -> dict[str, Any]:
    with world.svc.uow(read_only=True) as uow:
        row = uow.conn.execute(
            select(*(cast(cases.c[c], Text).label(c) for c in FROZEN_CASE_COLUMNS)).where(
                cases.c.id == case_id
            )
        ).one()
    return dict(row._mapping)


def test_save_many_leaves_the_frozen_columns_of_an_unchanged_case_as_stored(
    world: World,
) -> None:
    """A case whose requirements and risk are the ones loaded (R-32: frozen on
    the case) is saved without encoding them again: their columns keep the
    stored text, the rest of the row is written. A case given other
    requirements has them written."""
    ids = []
    for name in ("jan", "kim"):
        world.subject(name)
        ids.append(self_service_recovery(world, name))
    kept, replaced = ids
    with world.svc.uow() as uow:  # the stored text spelled differently, same JSON
        for case_id in ids:
            text = uow.conn.execute(
                select(cast(cases.c.requirements, Text)).where(cases.c.id == case_id)
            ).scalar_one()
            spaced = json.dumps(json.loads(text), indent=1)
            uow.conn.exec_driver_sql(
                "UPDATE cases SET requirements = "
                + ("CAST(%(r)s AS JSON)" if uow.conn.dialect.name == "postgresql" else "?")
                + " WHERE id = "
                + ("%(i)s" if uow.conn.dialect.name == "postgresql" else "?"),
                {"r": spaced, "i": case_id}
                if uow.conn.dialect.name == "postgresql"
                else (spaced, case_id),
            )
        uow.commit()
    before = {case_id: _stored_text(world, case_id) for case_id in ids}
    assert "\n" in before[kept]["requirements"]
    with world.svc.uow() as uow:
        loaded = uow.cases.get_many(ids, for_update=True)
        for case in loaded.values():
            case.outcome_reason = "saved in bulk"
        loaded[replaced].requirements = replace(loaded[replaced].requirements, instructions="new")
        uow.cases.save_many(list(loaded.values()))
        uow.commit()
    after = {case_id: _stored_text(world, case_id) for case_id in ids}
    assert after[kept] == before[kept]
    assert after[replaced]["requirements"] != before[replaced]["requirements"]
    assert "\n" not in after[replaced]["requirements"]
    with world.svc.uow(read_only=True) as uow:
        stored = {case_id: uow.cases.get(case_id) for case_id in ids}
    assert all(case.outcome_reason == "saved in bulk" for case in stored.values())
    assert stored[kept].requirements == loaded[kept].requirements
    assert stored[replaced].requirements.instructions == "new"
