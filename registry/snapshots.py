"""Snapshots that fall due in a save: taken from the saved aggregates in memory, written together.

The library (`Application._take_snapshots`, eventsourcing 9.5) takes each due snapshot by
reloading the aggregate from the store at that version and writes it in a transaction of its
own. An exchange batch posts to one cash account per firm it touched, so the accounts reach
their snapshot interval in the same few batches and such a batch paid for some 40 reloads and
40 synced commits after its own save, before any of its orders could be acknowledged (the
p99 spikes of the HTTP order runs).

Here the aggregate just saved *is* the state at that version when the due event is its last
in the save (the event-decorated command bodies are the same code that replays them), so the
snapshot is taken from it directly, and all of a save's snapshots go in one ``put`` (one
transaction). A snapshot due at an event before the aggregate's last in the same save falls
back to the library's reload. Snapshots stay an optimisation: the events are stored first and
are the record; a snapshot lost to a crash is simply not there, and loading replays events.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application, ProcessingEvent


def take_due_snapshots(app: Application[Any], processing_event: ProcessingEvent[Any]) -> None:
    """Snapshot every aggregate of ``processing_event`` whose saved version falls due."""
    if not app.snapshots or not app.snapshotting_intervals:
        return
    taken: list[Any] = []
    for event in processing_event.events:
        aggregate = processing_event.aggregates.get(event.originator_id)
        if aggregate is None:
            continue
        interval = app.snapshotting_intervals.get(type(aggregate))
        if interval is None or event.originator_version % interval:
            continue
        projector = app.snapshotting_projectors.get(type(aggregate))
        snapshot_class = getattr(type(aggregate), "Snapshot", type(app).snapshot_class)
        if (projector is not None or snapshot_class is None
                or aggregate.version != event.originator_version):
            kwargs = {} if projector is None else {"projector_func": projector}
            app.take_snapshot(event.originator_id, version=event.originator_version, **kwargs)
            continue
        taken.append(snapshot_class.take(aggregate))
    if taken:
        app.snapshots.put(taken)
