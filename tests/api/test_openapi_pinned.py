"""``/openapi.json`` changes only on purpose: the document's SHA-256 is pinned here.

Work on the request path (middleware, dependencies, routing) must leave the document byte for
byte as it was. A change to the API itself updates the digests below in the same commit, so
the diff shows that the document was meant to change."""

from __future__ import annotations

import hashlib
import json

import pytest

from api.app import create_app

#: json.dumps(create_app(env).openapi(), sort_keys=True), SHA-256
PINNED = {
    "plain": "b25a0783ae9e12a26eadc564da063e22f340600292544a47baf1db8040781d45",
    "bench": "b55707215a2cc06f7634e7747026e17aa3b85cdecae602c79dbbcea6e1701c62",
}
ENVS = {
    "plain": {"REGISTRY_STORE": "memory"},
    "bench": {"REGISTRY_STORE": "memory", "REGISTRY_BENCH_ENDPOINTS": "1"},
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_openapi_document_is_the_pinned_one(name: str) -> None:
    document = json.dumps(create_app(ENVS[name]).openapi(), sort_keys=True).encode()
    assert hashlib.sha256(document).hexdigest() == PINNED[name], (
        "the OpenAPI document changed: if the API was meant to change, pin the new digest")
