"""Known answers for leaf format 2 (the README's ledger contract), computed here from the
contract's own words with hashlib and hmac, so a change of the format cannot pass unnoticed."""

from __future__ import annotations

import hashlib
import hmac
import json

import rfc8785

from registry.leaves import SealKey, Subject, encode_v2, open_record

SEAL = bytes(range(32))
RECORD = {
    "position": 7, "aggregate_id": "00000000-0000-5000-8000-000000000001", "version": 3,
    "topic": "surplus:Market.BatchMatched.v1", "timestamp": "2025-03-01T01:00:00+00:00",
    "payload": {"batch": 2, "at": "2025-03-01T09:00:00+08:00",
                "ops": [["O", "S-1"], ["O", "B-1"]],
                "trades": [["ENERGY-2025-GD:1", 1, "B-1", "S-1", 300000, 40000, "BUYER",
                            "SELLER", 12000000, [], []]],
                "stp": []},
}
#: sha256 of the exact leaf bytes
LEAF_SHA256 = "db7eca086dafcdc9c7e076494903dcdfd308c203f633055f0bb9da6a243edb41"


def salt(position: int, part: str) -> bytes:
    """The contract: HMAC-SHA256(seal key, "<position>/<part>"), first 16 bytes."""
    return hmac.new(SEAL, f"{position}/{part}".encode(), "sha256").digest()[:16]


def commit(position: int, part: str, value: object) -> str:
    return hashlib.sha256(salt(position, part) + rfc8785.dumps(value)).hexdigest()


def test_a_batch_leaf_is_exactly_what_the_contract_says() -> None:
    leaf, openings = encode_v2(RECORD, owner=Subject("market", "ENERGY-2025-GD"),
                               seal=SealKey(SEAL))
    payload = RECORD["payload"]
    expected = rfc8785.dumps({
        "aggregate_id": RECORD["aggregate_id"], "leaf_format": 2, "position": 7,
        "timestamp": RECORD["timestamp"], "topic": RECORD["topic"], "version": 3,
        "subjects": [{"type": "trade", "id": "ENERGY-2025-GD:1", "parts": ["trades/0"]},
                     {"type": "market", "id": "ENERGY-2025-GD"}],
        "payload": {
            "batch": 2, "at": payload["at"],  # type: ignore[index]
            "ops": {"$sealed": "list", "commitments": [
                commit(7, "ops/0", ["O", "S-1"]), commit(7, "ops/1", ["O", "B-1"])]},
            "trades": {"$sealed": "list", "commitments": [
                commit(7, "trades/0", payload["trades"][0])]},  # type: ignore[index]
            "stp": {"$sealed": "list", "commitments": []},
        },
    })
    assert leaf == expected
    assert hashlib.sha256(leaf).hexdigest() == LEAF_SHA256
    assert encode_v2(RECORD, owner=Subject("market", "ENERGY-2025-GD"), seal=SealKey(SEAL),
                     openings=False) == (leaf, None)  # the signer's leaf, without openings
    assert openings is not None
    assert openings["trades/0"]["salt"] == salt(7, "trades/0").hex()
    assert open_record(json.loads(leaf), openings) == RECORD


def test_a_dict_field_is_sealed_item_by_item_in_key_order() -> None:
    record = {**RECORD, "topic": "surplus:Auction.Cleared.v1", "payload": {
        "administrator": "a", "clearing_price": 5, "allocations": {"b2": 2, "b1": 1},
        "excluded": {}, "rule_version": "GD-2023.1", "at": "x"}}
    leaf, openings = encode_v2(record, owner=Subject("auction", "AU-1"), seal=SealKey(SEAL))
    sealed = json.loads(leaf)["payload"]["allocations"]
    assert sealed == {"$sealed": "dict", "commitments": [commit(7, "allocations/0", ["b1", 1]),
                                                         commit(7, "allocations/1", ["b2", 2])]}
    assert json.loads(leaf)["subjects"][:2] == [
        {"type": "bid", "id": "b1", "parts": ["allocations/0"]},
        {"type": "bid", "id": "b2", "parts": ["allocations/1"]}]
    assert open_record(json.loads(leaf), openings)["payload"] == record["payload"]


def test_a_salt_is_the_hmac_of_the_contract_for_every_key_length() -> None:
    # the seal key's two HMAC states are computed once (`SealKey`); keys longer than SHA-256's
    # 64-byte block are hashed first, as HMAC does
    for length in (32, 63, 64, 65, 200):
        key = bytes((7 * i + length) % 256 for i in range(length))
        seal = SealKey(key)
        for position, part in ((0, "ops/0"), (7, "trades/12"), (2**40, "allocations/3"),
                               (5, "lost_by_holder/0"), (9, "café/1")):
            message = f"{position}/{part}".encode()
            assert seal.salt(position, part) == hmac.digest(key, message, "sha256")[:16]


def test_a_fields_salts_are_its_parts_salts() -> None:
    seal = SealKey(SEAL)
    for position, field, count in ((7, "ops", 12), (2**40, "lost_by_holder", 3), (1, "é", 2),
                                   (3, "stp", 0)):
        assert seal.salts(position, field, count) == [
            salt(position, f"{field}/{i}") for i in range(count)]
