"""Locust users of the registry's HTTP API, for `loadtests.run_load` (``make loadtest``).

Realistic users (the default run):

- `Trader`: an enterprise desk. Places limit orders around each market's reference price and
  market orders, cancels its own resting orders, reads order books and its holdings, across every
  market of the seeded world.
- `Administrator`: works the verification queue (approves the oldest waiting trade) and reads
  the markets.
- `Auditor`: fetches signed checkpoints, verifies them with the published key, and checks
  inclusion proofs of random leaves and consistency proofs between successive checkpoints.

Saturation users (``--compare``, one kind per run, no think time): `OrderFlood` submits limit
orders as fast as it gets answers; `EchoFlood` posts the same bodies to ``/bench/echo`` (validated
and authenticated the same way, no registry call); `BareFlood` posts them to the bare FastAPI
reference (`loadtests.bare_app`).

Configuration comes from the environment: ``LOADTEST_TOKENS`` (the ``tokens.json`` written by
`loadtests.load_world`) and ``LOADTEST_ACKS`` (a folder; each Locust process appends
``order|cancel <instrument> <order id>`` for every acknowledged order and cancel, which the
checks after the run look for in the store), ``LOADTEST_SPAWN_SPREAD`` (seconds: each user
starts after a random delay up to this, see `loadtests.run_load.spawn_spread`). Every user
proves its token in ``on_start``; if the service refuses it, the whole run stops with exit
code 3 instead of running idle users.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, constant, events, task
from locust.exception import StopUser

from ledger.checkpoint import verify_checkpoint
from ledger.merkle import hash_leaf, verify_consistency, verify_inclusion

AUTH_FAILED_EXIT_CODE = 3
ORDERS = "/markets/[instrument]/orders"
CANCEL = "/markets/[instrument]/orders/[order_id]"


def _config() -> dict[str, Any]:
    path = os.environ.get("LOADTEST_TOKENS")
    if not path:
        raise SystemExit("LOADTEST_TOKENS must name the tokens.json of the seeded world")
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


CONFIG = _config()
_next = {role: itertools.cycle(CONFIG[role]) for role in ("enterprise", "administrator",
                                                          "auditor")}
_user_numbers = itertools.count(1)
SPAWN_SPREAD = float(os.environ.get("LOADTEST_SPAWN_SPREAD", "0"))
_acks_dir = Path(os.environ.get("LOADTEST_ACKS", "."))
_acks_dir.mkdir(parents=True, exist_ok=True)
_acks = (_acks_dir / f"acks-{os.getpid()}.txt").open("a", buffering=1)  # a line per ack


def record_ack(what: str, instrument: str, order_id: str) -> None:
    _acks.write(f"{what} {instrument} {order_id}\n")


@events.quitting.add_listener
def _close_acks(**_: Any) -> None:
    _acks.flush()


class Authenticated(FastHttpUser):
    """A user holding a real bearer token of its role; the run stops if the token is refused."""

    abstract = True
    role = ""
    probe = ""  # a GET this role may make: proves the token before any task runs

    def on_start(self) -> None:
        gevent.sleep(random.uniform(0, SPAWN_SPREAD))  # arrive at the spawn rate (run_load)
        entry = next(_next[self.role])
        self.subject: str = entry["subject"]
        self.auth = {"Authorization": f"Bearer {entry['token']}"}
        self.tag = f"u{next(_user_numbers)}-{os.getpid()}"
        self.orders_placed = 0
        url = self.probe.format(subject=self.subject)
        with self.client.get(url, headers=self.auth, name=f"auth probe ({self.role})",
                             catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{self.role} token refused: HTTP {r.status_code}")
                self.stop_run(f"{self.role} {self.subject} could not authenticate "
                              f"(HTTP {r.status_code} on {url})")

    def stop_run(self, reason: str) -> None:
        """Stop the whole run, loudly: no user may silently skip its tasks."""
        print(f"load test stopped: {reason}", flush=True)
        self.environment.process_exit_code = AUTH_FAILED_EXIT_CODE
        gevent.spawn(self.environment.runner.quit)
        raise StopUser()

    def market(self) -> dict[str, Any]:
        spec: dict[str, Any] = random.choice(CONFIG["markets"])
        return spec

    def limit_body(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A limit order a few ticks either side of the reference price (inside the band), so
        books cross often and stay thin, as in a liquid market."""
        self.orders_placed += 1
        side = random.choice(("buy", "sell"))
        skew = -3 if side == "buy" else 3
        ticks = random.randint(-8, 8) + skew
        return {"order_id": f"{self.tag}-{self.orders_placed}", "side": side, "kind": "limit",
                "price": spec["reference_price"] + ticks * spec["tick"],
                "quantity": random.randint(1, 20) * 1000}

    def submit(self, spec: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
        """POST an order; on 201 record its acknowledgement and return the ack."""
        instrument = spec["instrument"]
        with self.client.post(f"/markets/{instrument}/orders", json=body, headers=self.auth,
                              name=f"POST {ORDERS} ({body['kind']})",
                              catch_response=True) as r:
            if r.status_code != 201:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
                return None
            ack: dict[str, Any] = r.json()
            record_ack("order", instrument, ack["order_id"])
            return ack


class Trader(Authenticated):
    """An enterprise desk trading every market of the world."""

    weight = 10
    wait_time = between(0.1, 0.5)
    role = "enterprise"
    probe = "/holdings/{subject}"

    def on_start(self) -> None:
        super().on_start()
        self.resting: list[tuple[str, str]] = []

    @task(6)
    def place_limit_order(self) -> None:
        spec = self.market()
        ack = self.submit(spec, self.limit_body(spec))
        if ack is not None and ack.get("resting", 0) > 0:
            self.resting.append((spec["instrument"], ack["order_id"]))
            del self.resting[:-50]

    @task(1)
    def place_market_order(self) -> None:
        spec = self.market()
        self.orders_placed += 1
        self.submit(spec, {"order_id": f"{self.tag}-{self.orders_placed}",
                           "side": random.choice(("buy", "sell")), "kind": "market",
                           "quantity": random.randint(1, 5) * 1000})

    @task(3)
    def cancel_resting_order(self) -> None:
        if not self.resting:
            return self.place_limit_order()
        instrument, order_id = self.resting.pop(random.randrange(len(self.resting)))
        with self.client.delete(f"/markets/{instrument}/orders/{order_id}", headers=self.auth,
                                name=f"DELETE {CANCEL}", catch_response=True) as r:
            if r.status_code == 200:
                record_ack("cancel", instrument, order_id)
            elif r.status_code == 404:
                r.success()  # filled (or self-trade cancelled) since: a normal race
            else:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")
        return None

    @task(2)
    def read_book(self) -> None:
        instrument = self.market()["instrument"]
        self.client.get(f"/markets/{instrument}/book?levels=10", headers=self.auth,
                        name="GET /markets/[instrument]/book")

    @task(1)
    def read_holdings(self) -> None:
        self.client.get(f"/holdings/{self.subject}", headers=self.auth,
                        name="GET /holdings/[code]")


class Administrator(Authenticated):
    """Works the verification queue: approves the oldest waiting trade."""

    fixed_count = 1
    wait_time = between(0.5, 1.5)
    role = "administrator"
    probe = "/markets"

    @task(3)
    def work_verification_queue(self) -> None:
        r = self.client.get("/trades/queue", headers=self.auth, name="GET /trades/queue")
        if r.status_code != 200:
            return
        items = r.json().get("items", [])
        if not items:
            return
        trade = items[0]
        with self.client.post(f"/trades/queue/{trade['trade']}/approve", headers=self.auth,
                              name="POST /trades/queue/[trade]/approve",
                              catch_response=True) as a:
            if a.status_code == 404:
                a.success()  # the other administrator took it first
            elif a.status_code != 200:
                a.failure(f"HTTP {a.status_code}: {a.text[:200]}")

    @task(1)
    def read_markets(self) -> None:
        self.client.get("/markets", headers=self.auth, name="GET /markets")


class Auditor(Authenticated):
    """Trusts nothing but the published key: verifies every checkpoint and proof it fetches."""

    fixed_count = 2
    wait_time = between(0.5, 1.5)
    role = "auditor"
    probe = "/ledger/entries?start=0&limit=1"

    def on_start(self) -> None:
        super().on_start()
        self.vkey = self.client.get("/ledger/vkey", name="GET /ledger/vkey").text.strip()
        self.last: Any = None  # the last verified checkpoint

    @task
    def audit_ledger(self) -> None:
        with self.client.get("/ledger/checkpoint", name="GET /ledger/checkpoint",
                             catch_response=True) as r:
            try:
                cp = verify_checkpoint(note=r.text, vkey=self.vkey)
            except Exception as exc:  # any failure to verify is a failed request
                r.failure(f"checkpoint does not verify: {exc}")
                return
        self.check_inclusion(cp)
        if self.last is not None and 0 < self.last.size < cp.size:
            self.check_consistency(self.last, cp)
        self.last = cp

    def check_inclusion(self, cp: Any) -> None:
        index = random.randrange(cp.size)
        entry = self.client.get(f"/ledger/entries?start={index}&limit=1", headers=self.auth,
                                name="GET /ledger/entries").json()[0]
        with self.client.get(f"/ledger/proof/inclusion?index={index}&size={cp.size}",
                             name="GET /ledger/proof/inclusion", catch_response=True) as r:
            try:
                verify_inclusion(index=index, size=cp.size,
                                 leaf_hash=hash_leaf(base64.b64decode(entry["leaf"])),
                                 proof=_hashes(r.json()), root=cp.root)
            except Exception as exc:
                r.failure(f"inclusion proof of {index} in {cp.size} fails: {exc}")

    def check_consistency(self, old: Any, new: Any) -> None:
        with self.client.get(f"/ledger/proof/consistency?old={old.size}&new={new.size}",
                             name="GET /ledger/proof/consistency", catch_response=True) as r:
            try:
                verify_consistency(size1=old.size, size2=new.size, root1=old.root,
                                   root2=new.root, proof=_hashes(r.json()))
            except Exception as exc:
                r.failure(f"{new.size} does not extend {old.size}: {exc}")


def _hashes(proof: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(h) for h in proof["hashes"]]


class OrderFlood(Authenticated):
    """Saturation: limit orders back to back, no think time (``--compare`` runs)."""

    wait_time = constant(0)
    role = "enterprise"
    probe = "/holdings/{subject}"

    @task
    def place_limit_order(self) -> None:
        spec = self.market()
        self.submit(spec, self.limit_body(spec))


class EchoFlood(Authenticated):
    """Saturation: the same bodies to the trivial endpoint, no think time."""

    wait_time = constant(0)
    role = "enterprise"
    probe = "/holdings/{subject}"

    @task
    def echo(self) -> None:
        body = self.limit_body(self.market())
        self.client.post("/bench/echo", json=body, headers=self.auth, name="POST /bench/echo")


class BareFlood(Authenticated):
    """Saturation of the reference (`loadtests.bare_app`): the same bodies, headers and
    settings as `EchoFlood`, to a bare FastAPI app with the order body model."""

    wait_time = constant(0)
    role = "enterprise"
    probe = "/health"

    @task
    def echo(self) -> None:
        body = self.limit_body(self.market())
        self.client.post("/bench/echo", json=body, headers=self.auth,
                         name="POST /bench/echo (bare FastAPI)")
