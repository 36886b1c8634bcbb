"""A batch's outcomes given the log position of the event that recorded them."""

from __future__ import annotations

from domain.errors import InsufficientFunds
from domain.exchange.orders import Outcome, at_position


def test_at_position_equals_replace_and_leaves_refusals_alone() -> None:
    refusal = InsufficientFunds("no cash")
    outcomes = [
        Outcome("o1", "accepted", [["M:1", 300_000, 2_000, "settled"]], 1_000, filled=2_000),
        Outcome("o2", "rejected", [], 0, "InsufficientFunds", "no cash", refusal),
        Outcome("o3", "cancelled", [], 0, filled=0),
        Outcome("o4", "amended", [], 3_000, filled=1_000),
    ]
    placed = at_position(outcomes, 41)
    assert placed == [o if o.exception is not None else o._replace(position=41)
                      for o in outcomes]
    assert [type(o) for o in placed] == [Outcome] * 4
    assert [o.position for o in placed] == [41, None, 41, 41]
    assert placed[1] is outcomes[1]


def test_assembling_an_uncut_plan_equals_assembling_it_part_by_part() -> None:
    from domain.errors import NotFound
    from domain.exchange.orders import Cancel, Order
    from registry.exchange import _assemble, _assemble_parts

    batches = {
        "A": [Order("a1", "E1", "B", "L", 100, 1_000, "u1"), Cancel("a0", "E1", "u1")],
        "B": [Order("b1", "E2", "S", "M", 0, 1_000, "u2")],
        "C": [Order("c1", "E3", "S", "L", 100, 1_000, "u3")],
    }
    plan = [(code, list(range(len(batches[code])))) for code in sorted(batches)]
    missing = NotFound("no market B")
    done = {
        0: [Outcome("a1", "accepted", [], 1_000, position=7),
            Outcome("a0", "cancelled", [], 0, position=7)],
        1: missing,
        2: [Outcome("c1", "accepted", [], 1_000, position=7)],
    }
    fast, general = _assemble(batches, plan, done, {}), _assemble_parts(batches, plan, done, {})
    assert fast == general and list(fast) == list(general) == ["B", "A", "C"]
    assert fast["B"] is missing


def test_went_in_is_the_outcome_of_an_accepted_request() -> None:
    from domain.exchange.orders import went_in

    fills = [["M:1", 300_000, 2_000, "pending"]]
    built = went_in("o1", "accepted", fills, 3_000, 2_000)
    assert built == Outcome("o1", "accepted", fills, 3_000, filled=2_000)
    assert type(built) is Outcome and built.fills is fills
    assert (built.error, built.exception, built.position) == (None, None, None)
