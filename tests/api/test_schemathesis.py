"""Property-based checks of the whole API against its own OpenAPI schema (schemathesis).

Every operation is called in process (ASGI) with generated valid and invalid requests and a
valid administrator token, and every response is held to all of schemathesis's checks: no
server error, documented status codes, content types, headers and response schemas, invalid
data rejected, valid data not refused with a client error it does not document, auth not
ignored, unsupported methods answered 405. The run is bounded (examples per operation, a fixed
seed) so that it stays a few minutes on two cores and reproducible.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import Case

from api.app import create_app
from api.tokens import TokenStore
from tests.world import seed_data_folder

MAX_EXAMPLES = 25

# Valid data may still be refused by a domain rule the schema cannot express (a credit code's
# check character, an instrument that does not exist in this world...): the API documents that
# refusal as 422 problem+json, so 422 counts as an accepted answer to schema-valid data too.
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]


def _token(folder: Path, role: str, subject: str) -> str:
    now = datetime.now(UTC)
    store = TokenStore(folder / "tokens.sqlite")
    try:
        return store.create(role=role, subject=subject, now=now,
                            expires_at=now + timedelta(days=1))[1]
    finally:
        store.close()


CONFIG = schemathesis.Config.from_dict({
    "seed": 20251201,
    "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
    "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
})
# The schema is the app's own document; building it touches no data folder. (Loading it from a
# fixture with schemathesis.pytest.from_fixture fails under pytest 9.2, which dropped the
# node attribute that loader rewrites.)
schema = schemathesis.openapi.from_dict(create_app({}).openapi(), config=CONFIG)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str]]:
    """The app over a small seeded world, and an administrator's bearer header."""
    folder = tmp_path_factory.mktemp("schemathesis")
    seed_data_folder(folder)
    secret = _token(folder, "administrator", "wang.fang")
    app = create_app({"REGISTRY_DATA_DIR": str(folder), "REGISTRY_RATE_LIMIT": "none"})
    return app, {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
def test_api_conforms_to_its_schema(case: Case, served: tuple[Any, dict[str, str]]) -> None:
    app, headers = served
    # In process, for the case and for schemathesis's own probe requests (e.g. without auth).
    case.operation.schema.app = case.operation.app = app
    case.call_and_validate(headers=dict(headers))
