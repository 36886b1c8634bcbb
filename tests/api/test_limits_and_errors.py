"""The framework's refusals: body cap (413), rate limit (429), unknown paths and methods,
malformed JSON, unexpected exceptions (a problem 500 that leaks nothing) and the OpenAPI
document of all of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from api.app import create_app
from api.openapi import REFUSALS
from tests.support.tokens import bearer
from tests.support.world import seed_data_folder

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data")
    seed_data_folder(path)
    return path


def serve(folder: Path, **settings: str) -> TestClient:
    return TestClient(create_app({"REGISTRY_DATA_DIR": str(folder), **settings}))


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with serve(folder, REGISTRY_MAX_BODY_BYTES="1000") as c:
        yield c


def is_problem(response: object, status: int, code: str) -> bool:
    r = response
    return (r.status_code == status  # type: ignore[attr-defined]
            and r.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
            and r.json()["type"].endswith("/" + code))  # type: ignore[attr-defined]


def test_a_declared_large_body_is_413(client: TestClient, folder: Path) -> None:
    response = client.post("/tokens", content=b"{" + b" " * 2000 + b"}",
                           headers={**bearer(folder), "content-type": "application/json"})
    assert is_problem(response, 413, "payload-too-large")


def test_a_chunked_body_without_length_is_capped_too(client: TestClient,
                                                     folder: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"role": "auditor", "name": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = client.post("/tokens", content=chunks(),
                           headers={**bearer(folder), "content-type": "application/json"})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert is_problem(response, 413, "payload-too-large")


def test_the_same_chunked_body_under_the_cap_passes(client: TestClient, folder: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"login": "zhao.min", "display_name": "Zhao Min", '
        yield b'"organisation": "audit_body", "roles": []}'

    response = client.post("/users", content=chunks(),
                           headers={**bearer(folder), "content-type": "application/json"})
    assert response.status_code == 201


def test_past_the_rate_limit_is_429_with_retry_after(folder: Path) -> None:
    mine, theirs = bearer(folder), bearer(folder, subject="chen.jie")
    with serve(folder, REGISTRY_RATE_LIMIT="3/minute") as c:
        assert [c.get("/ledger/entries", headers=mine).status_code for _ in range(3)] == [200] * 3
        refused = c.get("/ledger/entries", headers=mine)
        assert is_problem(refused, 429, "too-many-requests")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Per token: another token still has its own allowance.
        assert c.get("/ledger/entries", headers=theirs).status_code == 200


def test_the_default_limit_does_not_throttle_a_busy_client(folder: Path) -> None:
    mine = bearer(folder)
    with serve(folder) as c:
        statuses = {c.get("/ledger/entries", headers=mine).status_code for _ in range(200)}
    assert statuses == {200}


@pytest.mark.parametrize("setting", [{"REGISTRY_RATE_LIMIT": "lots"},
                                     {"REGISTRY_MAX_BODY_BYTES": "-1"}])
def test_bad_settings_are_refused_at_start(folder: Path, setting: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="REGISTRY_"):
        create_app({"REGISTRY_DATA_DIR": str(folder), **setting})


def test_unknown_paths_and_methods_are_problems(client: TestClient) -> None:
    assert is_problem(client.get("/no/such/path"), 404, "not-found")
    wrong_method = client.post("/ledger/checkpoint")
    assert is_problem(wrong_method, 405, "method-not-allowed")
    assert wrong_method.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_json_is_422_never_500(client: TestClient, folder: Path,
                                         body: bytes) -> None:
    response = client.post("/tokens", content=body,
                           headers={**bearer(folder), "content-type": "application/json"})
    assert is_problem(response, 422, "invalid-request")


def test_an_unexpected_exception_is_a_problem_500_that_leaks_nothing(folder: Path) -> None:
    app = create_app({"REGISTRY_DATA_DIR": str(folder)})

    @app.get("/boom")
    def boom() -> None:
        raise KeyError("/etc/registry/secret-path")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom")
    assert is_problem(response, 500, "internal-error")
    assert "secret-path" not in response.text and "KeyError" not in response.text


def test_every_operation_documents_the_refusals(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type", "title", "status", "detail"]
    operations = [(path, method, op) for path, item in schema["paths"].items()
                  for method, op in item.items()]
    assert len(operations) > 5
    for path, method, op in operations:
        for status in REFUSALS:
            content = op["responses"][str(status)]["content"]
            assert list(content) == [PROBLEM], (path, method, status)
        names = [p["name"] for p in op.get("parameters", [])]
        assert ("Idempotency-Key" in names) == (method == "post"), (path, method)
    assert "Retry-After" in schema["paths"]["/tokens"]["post"]["responses"]["429"]["headers"]


def test_allow_names_every_method_of_the_path(client: TestClient) -> None:
    """Starlette names only the first route matching the path; /tokens has GET and POST."""
    response = client.put("/tokens")
    assert is_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, HEAD, POST"


def test_an_undocumented_query_parameter_is_422(client: TestClient, folder: Path) -> None:
    admin = bearer(folder)
    assert client.get("/tokens", params={"limit": 5}, headers=admin).status_code == 200
    response = client.get("/tokens", params={"limt": 5}, headers=admin)
    assert is_problem(response, 422, "invalid-request")
    assert "'limt'" in response.json()["detail"]


def test_an_oversized_body_under_an_idempotency_key_claims_nothing(client: TestClient,
                                                                  folder: Path) -> None:
    headers = {**bearer(folder), "content-type": "application/json",
               "Idempotency-Key": "too-big-then-fine"}

    def chunks() -> Iterator[bytes]:
        yield b'{"login": "zhao.min", "display_name": "' + b"x" * 2000 + b'"}'

    assert is_problem(client.post("/users", content=chunks(), headers=headers), 413,
                      "payload-too-large")
    fine = client.post("/users", json={"login": "zhao.min.2", "display_name": "Zhao Min",
                                       "organisation": "audit_body", "roles": []},
                       headers=headers)
    assert fine.status_code == 201, fine.text


def test_head_is_a_get_without_its_body(client: TestClient, folder: Path) -> None:
    admin = bearer(folder)
    got, head = client.get("/tokens", headers=admin), client.head("/tokens", headers=admin)
    assert head.status_code == got.status_code == 200
    assert head.content == b"" and head.headers["content-length"] == str(len(got.content))
    assert is_problem(client.get("/tokens"), 401, "unauthenticated")
    assert client.head("/tokens").status_code == 401


def test_no_token_is_401_before_the_body_is_read(client: TestClient) -> None:
    response = client.post("/tokens", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert is_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    bad = client.post("/tokens", content=b"{not json", headers={
        "content-type": "application/json", "Authorization": "Bearer not-a-token"})
    assert is_problem(bad, 401, "unauthenticated")
    # A public route is not affected by a stale token.
    assert client.get("/ledger/vkey", headers={"Authorization": "Bearer stale"}).status_code == 200


def test_head_stops_a_stream_after_its_headers(folder: Path) -> None:
    """HEAD on a server-sent-events route must not keep the stream running to its end."""
    app = create_app({"REGISTRY_DATA_DIR": str(folder)})
    produced: list[int] = []

    @app.get("/feed")
    def feed() -> StreamingResponse:
        def events() -> Iterator[bytes]:
            for n in range(10_000):
                produced.append(n)
                yield b"data: tick\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    with TestClient(app) as c:
        response = c.head("/feed")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"].startswith("text/event-stream")
    assert len(produced) < 10
