"""The PostgreSQL recorder's retry gives up within its deadline (a fake clock: no wall time)."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import OperationalError

from registry import pg_recorder
from registry.config import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(("each", "tries"), [(5.0, 1), (2.0, 2), (0.01, None)])
def test_a_down_database_is_given_up_within_the_deadline(monkeypatch: pytest.MonkeyPatch,
                                                         each: float,
                                                         tries: int | None) -> None:
    clock = FakeClock()
    monkeypatch.setattr(pg_recorder.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(pg_recorder.time, "sleep", clock.sleep)
    calls: list[float] = []

    @pg_recorder.bounded_retry
    def connect() -> None:
        calls.append(clock.now)
        clock.now += each  # each try waits this long for a connection, then fails
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        connect()
    if tries is not None:
        assert len(calls) == tries
    else:  # quick failures: tried again and again (the jitter varies the count)
        assert len(calls) > 10
    assert clock.now <= pg_recorder.DEADLINE_SECONDS + 0.01


def test_a_passing_hiccup_is_ridden_out(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(pg_recorder.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(pg_recorder.time, "sleep", clock.sleep)
    calls: list[int] = []

    @pg_recorder.bounded_retry
    def insert() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return "stored"

    assert insert() == "stored" and len(calls) == 2


def test_postgres_settings_select_the_bounded_recorder_and_timeouts() -> None:
    es = Settings.from_env({"REGISTRY_STORE": "postgres"}).eventsourcing_env
    assert es["APPLICATION_RECORDER_TOPIC"] == pg_recorder.TOPIC
    assert int(es["POSTGRES_CONNECT_TIMEOUT"]) + pg_recorder.WAIT_SECONDS <= 10
    assert int(es["POSTGRES_LOCK_TIMEOUT"]) <= 10
