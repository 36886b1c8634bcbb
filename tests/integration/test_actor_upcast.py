"""Events stored before actors were recorded (no ``actor`` key) still replay into the same
state, read as ``unknown:legacy``; new events name their actor and, through an approval, the
approver."""

from __future__ import annotations

import dataclasses
from typing import Any

from eventsourcing.utils import resolve_topic

from registry.acting import LEGACY, actor_of
from registry.bootstrap import build_registry
from registry.events import stored_events, to_record
from registry.replay import Fold, comparable
from tests.support.world import build_world, issue


def born_with_actor(topic: str) -> bool:
    """An event whose own attributes name its ``actor`` (a confirmed right's confirmation, a
    sampling round's steps): added after actors were recorded, it never existed without."""
    return "actor" in {f.name for f in dataclasses.fields(resolve_topic(topic))}


def without_actors(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it was stored before actors were recorded."""
    if born_with_actor(record["topic"]):
        return record
    return {**record, "payload": {k: v for k, v in record["payload"].items()
                                  if k not in ("actor", "approved_by")}}


def test_an_export_of_events_without_actors_replays_to_the_same_state() -> None:
    app = build_registry({"REGISTRY_STORE": "memory"})
    try:
        w = build_world(app)
        issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900,
              post=100)
        app.holdings.transfer(instrument="COD-2025-MAOZHOU", seller=w.dyeing, buyer=w.paper,
                              quantity=300, ref="T-1", at="2025-04-01T10:00:00+08:00", actor="u-1",
                              reason="correction", administrator="u-admin")
        records = [to_record(p, e) for p, e in stored_events(app)]
        assert all(isinstance(r["payload"].get("actor"), str) for r in records)
        old_shape = [without_actors(r) for r in records]
        stripped = [r for r in old_shape if not born_with_actor(r["topic"])]
        assert len(stripped) > len(records) // 2  # nearly the whole export is of the old shape
        assert {actor_of(r["payload"]) for r in stripped} == {LEGACY}
        new, old = Fold(), Fold()
        for r in records:
            new.apply_record(r)
        for r in old_shape:
            old.apply_record(r)
        assert new.aggregates.keys() == old.aggregates.keys()
        for key, aggregate in new.aggregates.items():
            assert comparable(aggregate) == comparable(old.aggregates[key])
            assert comparable(aggregate) == comparable(app.repository.get(key))
    finally:
        app.close()
