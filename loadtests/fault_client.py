"""Recording clients for the fault suite (`loadtests.faults`): every request, its response (or
the transport error) and its Idempotency-Key, classified.

Each client is a thread with its own HTTP connection and bearer token: enterprise desks place
limit orders near each market's reference price, cancel their own resting orders and transfer
units to each other (off-exchange transfers are an administrator's, for a non-trade reason, so
the desk asks one to record them); an administrator proposes deposits and a second one
approves them (four eyes: the proposal answers 202 and moves nothing, the approval runs the
deposit and answers its result, so the approval is the recorded deposit write). Every write
carries a fresh Idempotency-Key and a fresh natural key (order id, transfer ref, deposit
reference), so the checks can find it in the store.

What an answer means for the store (`classify`):

- ``acked``: 2xx. It must be stored exactly once.
- ``refused``: a definitive refusal (4xx other than the idempotency in-progress / outcome-unknown
  answers, 503 ``storage-unavailable``), or a connection that was never established (the
  request never left). It must be absent.
- ``in-doubt``: no answer after the request was sent (reset, timeout), a 5xx other than
  ``storage-unavailable`` (``outcome-unknown`` included), or the idempotency answers that say
  the first attempt's outcome is not known. It may be stored at most once, and a retry with its
  key must settle it (`replay`).

The log is one JSON line per request (``ops.jsonl``); secrets are never written.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: seconds: a request the service has not answered by then is in doubt (issue: about 10 s)
REQUEST_TIMEOUT_S = 15.0
IN_DOUBT_PROBLEMS = {"outcome-unknown", "idempotency-key-in-progress",
                     "idempotency-outcome-unknown"}
REFUSED_5XX = {"storage-unavailable"}
WRITE_KINDS = ("order", "cancel", "transfer", "deposit")


@dataclass
class Op:
    """One write and what came of it (the request is re-sent as it was by `replay`)."""

    n: int
    round: int
    client: str
    kind: str  # order | cancel | transfer | deposit
    method: str
    path: str
    body: dict[str, Any] | None
    key: str | None  # the Idempotency-Key (cancels are DELETEs, which take none)
    identity: list[str]  # the natural key: [instrument, order id] / [code, reference] / …
    sent: float = 0.0
    answered: float = 0.0
    status: int | None = None
    problem: str | None = None
    error: str | None = None  # not-connected (never sent) | no-answer (reset, timeout)
    replayed: bool = False  # answered with Idempotent-Replayed: true
    outcome: str = ""
    retry: dict[str, Any] | None = None  # what the retry with the same key answered
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def problem_code(response: httpx.Response) -> str | None:
    if "problem+json" not in response.headers.get("content-type", ""):
        return None
    try:
        kind = response.json().get("type", "")
    except ValueError:
        return None
    return str(kind).rsplit("/", 1)[-1] or None


def classify(status: int | None, problem: str | None, error: str | None) -> str:
    if status is None:
        return "refused" if error == "not-connected" else "in-doubt"
    if 200 <= status < 300:
        return "acked"
    if problem in IN_DOUBT_PROBLEMS:
        return "in-doubt"
    if status >= 500:
        return "refused" if problem in REFUSED_5XX else "in-doubt"
    return "refused"


def send(client: httpx.Client, op: Op, token: str) -> None:
    """Send ``op`` once and record the answer on it."""
    headers = {"Authorization": f"Bearer {token}"}
    if op.key:
        headers["Idempotency-Key"] = op.key
    op.sent = time.time()
    try:
        r = client.request(op.method, op.path, json=op.body, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as e:
        op.error, op.extra["detail"] = "not-connected", f"{type(e).__name__}: {e}"[:200]
    except httpx.TransportError as e:
        op.error, op.extra["detail"] = "no-answer", f"{type(e).__name__}: {e}"[:200]
    else:
        op.status, op.problem = r.status_code, problem_code(r)
        op.replayed = r.headers.get("idempotent-replayed") == "true"
        op.extra["body"] = r.text[:300]
        if op.kind == "order" and r.status_code == 201:
            try:
                op.extra["resting"] = r.json().get("resting", 0)
            except ValueError:
                op.extra["resting"] = 0
    op.answered = time.time()
    op.outcome = classify(op.status, op.problem, op.error)


def replay(client: httpx.Client, op: Op, token: str) -> dict[str, Any]:
    """Re-send ``op`` with its key and body; what it answered (its outcome after the retry)."""
    again = Op(op.n, op.round, op.client, op.kind, op.method, op.path, op.body, op.key,
               op.identity, extra={k: v for k, v in op.extra.items() if k != "body"})
    send(client, again, token)
    return {"status": again.status, "problem": again.problem, "error": again.error,
            "replayed": again.replayed, "outcome": again.outcome,
            "body": again.extra.get("body", "")[:200]}


@dataclass(frozen=True)
class World:
    """What the clients act on: the seeded traders with their tokens, two administrators'
    tokens (a proposer and its approver: four eyes), the markets (instrument, reference price,
    tick)."""

    traders: list[tuple[str, str]]  # (credit code, token)
    admin_token: str  # proposes deposits, records transfers
    approver_token: str  # a different administrator: approves the deposits
    markets: list[dict[str, Any]]

    @classmethod
    def from_tokens(cls, path: Path) -> World:
        data = json.loads(path.read_text())
        admins = data["administrator"]
        return cls(traders=[(t["subject"], t["token"]) for t in data["enterprise"]],
                   admin_token=admins[0]["token"], approver_token=admins[1]["token"],
                   markets=data["markets"])


class Traffic:
    """Client threads sending writes until stopped; every op is kept and logged."""

    def __init__(self, world: World, base_url: str, *, round_no: int, log: Path,
                 desks: int = 4, pause_s: float = 0.02, seed: int = 0) -> None:
        self.world, self.base_url, self.round_no = world, base_url, round_no
        self.desks, self.pause_s = desks, pause_s
        self.ops: list[Op] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._log = log.open("a", buffering=1)
        self._counter = 0
        self._tokens: dict[int, str] = {}
        self._random = random.Random(seed)

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def _keep(self, op: Op, token: str) -> None:
        with self._lock:
            self.ops.append(op)
            self._tokens[op.n] = token  # in memory only, for the retry
            self._log.write(op.line() + "\n")

    def start(self) -> None:
        for d in range(self.desks):
            code, token = self.world.traders[d % len(self.world.traders)]
            self._threads.append(threading.Thread(
                target=self._desk, args=(d, code, token, self._random.randrange(2**32)),
                daemon=True))
        self._threads.append(threading.Thread(target=self._cashier,
                                              args=(self._random.randrange(2**32),),
                                              daemon=True))
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=REQUEST_TIMEOUT_S + 5)

    def close(self) -> None:
        self._log.close()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_S)

    def _loop(self) -> Iterator[None]:
        while not self._stop.is_set():
            yield
            self._stop.wait(self.pause_s)

    def _back_off(self, op: Op) -> None:
        """While nothing listens (a restart), try a few times a second, not hundreds."""
        if op.error is not None or (op.status or 0) >= 500:
            self._stop.wait(0.2)

    def _desk(self, d: int, code: str, token: str, seed: int) -> None:
        rng = random.Random(seed)
        resting: list[tuple[str, str]] = []
        peers = [c for c, _ in self.world.traders if c != code]
        tag = f"F{self.round_no}-d{d}"
        with self._client() as client:
            for _ in self._loop():
                roll = rng.random()
                n = self._next()
                if roll < 0.15 and resting:
                    instrument, order_id = resting.pop(rng.randrange(len(resting)))
                    op = Op(n, self.round_no, tag, "cancel", "DELETE",
                            f"/markets/{instrument}/orders/{order_id}", None, None,
                            [instrument, order_id])
                elif roll < 0.25 and peers:
                    spec = rng.choice(self.world.markets)
                    ref = f"{tag}-T{n}"
                    op = Op(n, self.round_no, tag, "transfer", "POST",
                            f"/holdings/{code}/transfers",
                            {"instrument": spec["instrument"], "buyer": rng.choice(peers),
                             "quantity": rng.randint(1, 5) * 1000, "ref": ref,
                             "reason": "correction"},
                            f"{tag}-k{n}", [spec["instrument"], code, ref])
                else:
                    spec = rng.choice(self.world.markets)
                    side = rng.choice(("buy", "sell"))
                    ticks = rng.randint(-6, 6) + (-2 if side == "buy" else 2)
                    order_id = f"{tag}-O{n}"
                    op = Op(n, self.round_no, tag, "order", "POST",
                            f"/markets/{spec['instrument']}/orders",
                            {"order_id": order_id, "side": side, "kind": "limit",
                             "price": spec["reference_price"] + ticks * spec["tick"],
                             "quantity": rng.randint(1, 10) * 1000},
                            f"{tag}-k{n}", [spec["instrument"], order_id])
                who = self.world.admin_token if op.kind == "transfer" else token
                send(client, op, who)
                self._keep(op, who)
                self._back_off(op)
                if op.kind == "order" and op.outcome == "acked" and op.extra.get("resting"):
                    resting.append((op.identity[0], op.identity[1]))
                    del resting[:-30]

    def _cashier(self, seed: int) -> None:
        rng = random.Random(seed)
        tag = f"F{self.round_no}-cash"
        with self._client() as client:
            for _ in self._loop():
                n = self._next()
                code, _ = rng.choice(self.world.traders)
                reference = f"{tag}-D{n}"
                amount = rng.randint(1, 1000) * 100
                proposal = self._propose_deposit(client, n, code, amount, reference, tag)
                if proposal is None:
                    self._stop.wait(0.2)  # nothing to approve: the proposal moved no cash
                    continue
                op = Op(n, self.round_no, tag, "deposit", "POST",
                        f"/proposals/{proposal}/approve", None, f"{tag}-k{n}",
                        [code, reference], extra={"amount": amount, "proposal": proposal})
                send(client, op, self.world.approver_token)
                self._keep(op, self.world.approver_token)
                self._back_off(op)
                self._stop.wait(0.05)

    def _propose_deposit(self, client: httpx.Client, n: int, code: str, amount: int,
                         reference: str, tag: str) -> str | None:
        """The deposit's proposal id (202), or None when it was not proposed: a proposal is
        not the deposit (nothing moves until it is approved), so it is not a recorded write."""
        headers = {"Authorization": f"Bearer {self.world.admin_token}",
                   "Idempotency-Key": f"{tag}-p{n}"}
        try:
            r = client.post(f"/cash/{code}/deposits", headers=headers,
                            json={"amount": amount, "reference": reference})
        except httpx.TransportError:
            return None
        if r.status_code != 202:
            return None
        try:
            return str(r.json()["id"])
        except (ValueError, KeyError):
            return None

    def retry(self, ops: list[Op]) -> None:
        """Re-send each op with its key; record the answer as the op's ``retry``."""
        with self._client() as client:
            for op in ops:
                op.retry = replay(client, op, self._tokens[op.n])
                self._log.write(json.dumps({"retry_of": op.n, "key": op.key, **op.retry},
                                           separators=(",", ":")) + "\n")
