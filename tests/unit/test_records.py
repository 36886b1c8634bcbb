"""The stored shapes of a batch's trades and settlement steps, built and read by name."""

from __future__ import annotations

from inspect import signature

import pytest

from domain.records import (
    PoolStep,
    Trade,
    TransferStep,
    step_of,
    stored_pool_step,
    stored_trade,
    stored_transfer,
)


def test_the_stored_builders_take_the_records_fields_in_their_order() -> None:
    assert tuple(signature(stored_trade).parameters) == Trade._fields
    assert tuple(signature(stored_transfer).parameters) == TransferStep._fields[1:]
    assert tuple(signature(stored_pool_step).parameters) == PoolStep._fields


def test_a_stored_record_is_the_list_of_the_named_record() -> None:
    fields = ("M:7", 3, "o9", "o2", 300_000, 2_000, "E1", "E2", 600_000, ["above"], ["a", "u"])
    assert stored_trade(*fields) == list(Trade(*fields))
    moves = [[1, 1, 1_000]]
    assert stored_transfer("E2", "E1", 1_000, "M:7", moves) == list(
        TransferStep("transfer", "E2", "E1", 1_000, "M:7", moves))
    assert stored_pool_step("reserve", "E2", 1_000, moves) == list(
        PoolStep("reserve", "E2", 1_000, moves))


def test_a_stored_step_reads_back_as_its_record() -> None:
    moves = [[1, 1, 1_000]]
    transfer = step_of(["transfer", "E2", "E1", 1_000, "M:7", moves])
    assert type(transfer) is TransferStep
    assert transfer == TransferStep("transfer", "E2", "E1", 1_000, "M:7", moves)
    assert (transfer.buyer, transfer.moves) == ("E1", moves)
    release = step_of(["release", "E2", 1_000, moves])
    assert type(release) is PoolStep and release == PoolStep("release", "E2", 1_000, moves)
    with pytest.raises(TypeError):
        step_of(["transfer", "E2", "E1", 1_000, "M:7"])
    with pytest.raises(TypeError):
        step_of(["reserve", "E2", 1_000, moves, "extra"])
