"""Public ledger endpoints: what they serve verifies with nothing but the verifier key."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.checkpoint import verify_checkpoint
from ledger.merkle import hash_leaf, verify_consistency, verify_inclusion
from tests.support.world import seed_data_folder


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    env = seed_data_folder(tmp_path)
    with TestClient(create_app(env)) as c:
        yield c


def test_checkpoint_verifies_with_the_published_key(client: TestClient) -> None:
    vkey = client.get("/ledger/vkey")
    note = client.get("/ledger/checkpoint")
    assert vkey.status_code == note.status_code == 200
    assert note.headers["content-type"].startswith("text/plain")
    cp = verify_checkpoint(note=note.text, vkey=vkey.text.strip())
    assert cp.size > 20


def test_proofs_verify_against_the_checkpoint(client: TestClient, tmp_path: Path) -> None:
    cp = verify_checkpoint(note=client.get("/ledger/checkpoint").text,
                           vkey=client.get("/ledger/vkey").text.strip())
    proof = client.get("/ledger/proof/inclusion", params={"index": 3, "size": cp.size}).json()
    assert (proof["index"], proof["size"]) == (3, cp.size)
    state = client.app.state.registry_state  # type: ignore[attr-defined]
    leaf = state.ledger.leaf(3)
    assert json.loads(leaf)["position"] == 4
    verify_inclusion(index=3, size=cp.size, leaf_hash=hash_leaf(leaf),
                     proof=[base64.b64decode(h) for h in proof["hashes"]], root=cp.root)
    old = client.get("/ledger/proof/consistency", params={"old": 5, "new": cp.size}).json()
    verify_consistency(size1=5, size2=cp.size, root1=state.ledger.root(5), root2=cp.root,
                       proof=[base64.b64decode(h) for h in old["hashes"]])


@pytest.mark.parametrize("params", [{"index": 5, "size": 5}, {"index": 1, "size": 10**9},
                                    {"index": -1, "size": 3}, {"index": "x", "size": 3}])
def test_bad_proof_requests_are_problems_not_server_errors(
    client: TestClient, params: dict[str, object]
) -> None:
    response = client.get("/ledger/proof/inclusion", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["type"].startswith("https://")


def test_the_service_signs_what_is_committed_without_being_asked(client: TestClient) -> None:
    """A write through the registry, and nobody reads the ledger: the signer still signs it,
    and /ledger/status reports the merge delay it measured."""
    from tests.integration.test_continuous_signing import eventually
    from tests.support.world import AT, code

    state = client.app.state.registry_state  # type: ignore[attr-defined]
    assert eventually(lambda: client.get("/ledger/status").json()["signed_size"] > 0)
    signed = client.get("/ledger/status").json()["signed_size"]
    state.registry.exchange.deposit(enterprise=code(1), amount=1000, reference="DEP-STATUS-1",
                                    administrator="admin-cash", at=AT)
    assert eventually(lambda: client.get("/ledger/status").json()["signed_size"] > signed)
    status = client.get("/ledger/status").json()
    assert status["size"] == status["signed_size"] and status["signing_error"] is None
    delay = status["merge_delay"]
    assert delay["count"] >= 1 and delay["p50_ms"] <= delay["p99_ms"] <= delay["max_ms"]
