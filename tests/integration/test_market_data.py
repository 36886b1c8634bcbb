"""The market-data read model agrees with the registry after a long random order stream."""

from __future__ import annotations

import random
from pathlib import Path

from loadtests.bench_exchange import CODE, seed_world, stream
from registry.bootstrap import build_registry
from registry.market_data import MarketData


def test_read_model_matches_the_market_incrementally_and_from_scratch(tmp_path: Path) -> None:
    app = build_registry({"REGISTRY_DATA_DIR": str(tmp_path)})
    accounts = seed_world(app, 6, 10**8)
    requests = stream(random.Random(5), 3000, accounts)
    following = MarketData(app)
    for n in range(0, len(requests), 250):
        app.exchange.submit_orders(instrument=CODE, requests=requests[n:n + 250],
                                   at=f"2025-06-0{2 + n // 1000}T10:00:00+08:00")
        following.refresh()  # incremental, batch by batch
    fresh = MarketData(app)
    fresh.refresh()  # all at once
    market = app.exchange.market(CODE)
    for data in (following, fresh):
        assert data.depth(CODE, 1000)["bids"] == [
            {"price": p, "quantity": q, "orders": c} for p, q, c in market.book.depth(1000).bids]
        assert data.depth(CODE, 1000)["asks"] == [
            {"price": p, "quantity": q, "orders": c} for p, q, c in market.book.depth(1000).asks]
        open_orders = {o["order_id"]: o["resting"] for o in data.orders_of_account(None)
                       if o["status"] == "open"}
        assert open_orders == {k: v.remaining for k, v in market.orders.items()}
        assert len(data.trades) == market.trade_count > 100
        for o in data.orders_of_account(None):
            assert o["filled"] + o["resting"] <= o["quantity"]
            if o["status"] == "filled":
                assert o["filled"] == o["quantity"]
        days = data.history(CODE, "day")
        assert [b["period"] for b in days] == ["2025-06-02", "2025-06-03", "2025-06-04"]
        assert sum(b["trades"] for b in days) == market.trade_count
        hours = data.history(CODE, "hour")
        assert [b["period"] for b in hours] == ["2025-06-02T10", "2025-06-03T10",
                                                "2025-06-04T10"]
        assert [b["close"] for b in hours] == [b["close"] for b in days]
        assert sum(b["quantity"] for b in days) == sum(t["quantity"]
                                                      for t in data.trades.values())
        for who in accounts:
            mine = data.trades_of(who)
            assert all(who in (t["buyer"], t["seller"]) for t in mine)
    assert [m.seq for m in following.feed] == [m.seq for m in fresh.feed]
    assert [m.data for m in following.feed] == [m.data for m in fresh.feed]
    app.close()
