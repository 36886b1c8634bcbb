"""What the OpenAPI document says of a request: the methods of a resource, whether an
operation needs a token, the query parameters it documents.

Read by the error handlers, authentication and the Idempotency-Key middleware, and by
``api.openapi`` (which builds the document): this module imports none of them, so none of
them imports another through the document.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from fastapi import FastAPI


def documented_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the document lists for the resource ``path`` names (HEAD with GET: see
    ``api.methods``), for the ``Allow`` header of a 405. Starlette's own names only the first
    route that matched, e.g. POST where a GET and a POST route share the path."""
    methods = {m.upper() for item in _resource(app, path) for m in item if m != "parameters"}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def needs_token(app: FastAPI, method: str, path: str) -> bool:
    """Whether the operation ``method path`` is documented as needing a bearer token."""
    method = "get" if method.upper() == "HEAD" else method.lower()
    return any("security" in item.get(method, {}) for item in _resource(app, path))


def _resource(app: FastAPI, path: str) -> list[dict[str, Any]]:
    """The document's path items matching ``path``; where templates overlap
    (``/holdings/freezes`` and ``/holdings/{code}``) the most literal ones, as they name the
    resource."""
    templates: list[tuple[re.Pattern[str], int, dict[str, Any]]] | None = getattr(
        app.state, "path_templates", None)
    if templates is None:
        templates = [(_template(t), t.count("{"), item)
                     for t, item in app.openapi().get("paths", {}).items()]
        app.state.path_templates = templates
    matches = [(n, item) for pattern, n, item in templates if pattern.fullmatch(path)]
    fewest = min((n for n, _ in matches), default=0)
    return [item for n, item in matches if n == fewest]


@functools.cache
def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))


def documented_query(app: FastAPI) -> dict[tuple[str, str], set[str]]:
    """The query parameters each (path template, method) of the document names."""
    cached: dict[tuple[str, str], set[str]] | None = getattr(app.state, "query_names", None)
    if cached is None:
        cached = {}
        for path, item in app.openapi().get("paths", {}).items():
            for method, operation in item.items():
                if method != "parameters":
                    cached[(path, method)] = {p["name"] for p in operation.get("parameters", [])
                                              if p.get("in") == "query"}
        app.state.query_names = cached
    return cached
