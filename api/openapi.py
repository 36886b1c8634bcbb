"""The OpenAPI document: every operation documents the problem responses it can give.

Applied to the generated schema rather than per route, so routers added later get it without
code of their own: every operation lists 400, 401, 403, 404, 409, 413, 422 and 429 as
``application/problem+json`` (FastAPI's own ``application/json`` 422 is replaced, since our
validation errors are problems too), and every POST documents its ``Idempotency-Key`` header.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.documented import documented_query
from api.errors import PROBLEM, ApiError, Problem
from api.idempotency import KEY_PATTERN, MAX_KEY_LENGTH

REFUSALS = {
    400: "Malformed request (for example an invalid Idempotency-Key)",
    401: "Missing, unknown, expired or revoked bearer token",
    403: "The token's role may not do this",
    404: "No such object, or not one the caller may see",
    409: "Refused by the current state (conflict, insufficient holdings, key in progress)",
    413: "Request body too large",
    422: "Invalid request, a domain rule refused it, or an Idempotency-Key reused with "
         "another body",
    429: "Too many requests for this token; retry after the given seconds",
}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Repeat a POST safely: the same key and body (per principal, for 24 hours) "
                   "return the first response without a second effect.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
               "pattern": KEY_PATTERN},
}


def _refusal(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": REFUSALS[status],
                                "content": {PROBLEM: {"schema": _PROBLEM_REF}}}
    if status == 429:
        response["headers"] = {"Retry-After": {"description": "seconds to wait",
                                               "schema": {"type": "integer"}}}
    return response


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the problem responses and the Idempotency-Key header to every operation."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    for path in schema.get("paths", {}).values():
        for method, operation in path.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            for status in REFUSALS:
                responses[str(status)] = _refusal(status)
            if method == "post":
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(_IDEMPOTENCY_KEY)
    # FastAPI's validation-error models, once no longer referenced, are dropped.
    for unused in ("HTTPValidationError", "ValidationError"):
        model = schemas.pop(unused, None)
        if model is not None and f"#/components/schemas/{unused}" in json.dumps(schema):
            schemas[unused] = model
    return schema


async def reject_undocumented_query(request: Request) -> None:
    """A dependency of every route: query parameters the operation does not document are
    refused with 422, as unknown body fields are (``extra="forbid"``), so a misspelt
    ``?limt=5`` is not silently ignored. ``async`` because it only reads memory: a plain
    ``def`` would cost every request a trip through the thread pool."""
    if not request.scope.get("query_string"):  # the usual request: nothing to parse
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    known = documented_query(request.app).get((route.path_format, request.method.lower()))
    if known is None:  # not in the document (e.g. the document's own routes)
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ApiError(422, "invalid-request",
                       f"unknown query parameter(s): {', '.join(map(repr, unknown))}")


def install(app: FastAPI) -> None:
    """Serve the documented schema at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
