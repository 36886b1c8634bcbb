"""The one reader of the notification log: positions, pages, stops and decoding."""

from __future__ import annotations

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from registry.log_reader import LogReader, reader_from


class Counter(Aggregate):
    @event("Counted")
    def count(self, n: int) -> None:
        self.n = n


@pytest.fixture
def app() -> Application:
    app: Application = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    c = Counter()
    for n in range(6):
        c.count(n)
    app.save(c)  # 7 notifications: created + six counts
    return app


def test_pages_read_everything_in_commit_order_and_move_the_position(app: Application) -> None:
    log = LogReader(app, page=3)
    pages = [[n.id for n in page] for page in log.pages()]
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]
    assert log.position == 7
    assert list(log.pages()) == []  # nothing new


def test_a_follower_failing_halfway_reads_the_page_again(app: Application) -> None:
    log = LogReader(app, page=3)
    with pytest.raises(RuntimeError):
        for page in log.pages():
            if page[0].id == 4:
                raise RuntimeError("fold failed")
    assert log.position == 3
    assert [n.id for n in log.notifications()] == [4, 5, 6, 7]


def test_stop_and_limit_bound_the_reading(app: Application) -> None:
    log = LogReader(app, page=2)
    assert [n.id for n in log.notifications(stop=5)] == [1, 2, 3, 4, 5]
    assert log.position == 5
    assert [n.id for n in reader_from(app, start=3).notifications(limit=2)] == [3, 4]
    assert [n.id for n in LogReader(app, position=6).notifications(stop=9)] == [7]


def test_events_are_decoded_by_the_applications_mapper(app: Application) -> None:
    got = [(p, type(e).__name__, getattr(e, "n", None))
           for p, e in reader_from(app, start=6).events()]
    assert got == [(6, "Counted", 4), (7, "Counted", 5)]


def test_single_positions_pages_and_the_head(app: Application) -> None:
    log = LogReader(app, page=4)
    at = log.at(2)
    assert at is not None and at.id == 2
    assert log.at(8) is None
    assert [n.id for n in log.next_page()] == [1, 2, 3, 4]
    assert log.position == 4
    assert [n.id for n in log.select(2, 2)] == [2, 3] and log.position == 4
    log.skip_to_head()
    assert log.position == log.head() == 7 and log.next_page() == []
