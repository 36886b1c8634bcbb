"""One table maps domain errors to HTTP statuses; every error is ``application/problem+json``."""

from __future__ import annotations

import errno
import logging
import sqlite3
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.documented import documented_methods
from domain import errors
from registry.storage import (
    RETRY_AFTER_SECONDS,
    OutcomeUnknown,
    StorageError,
    StorageUnavailable,
    committed_saves,
)

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
TYPE_BASE = "https://surplus-registry.local/problems/"

#: domain error -> HTTP status; the problem ``type`` is the error's stable ``code``
STATUS: dict[type[errors.RegistryError], int] = {
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.InvalidState: 409,
    errors.ConcurrencyConflict: 409,
    errors.InsufficientHoldings: 409,
    errors.CreditRestricted: 403,
    errors.AgencyNotEligible: 403,
    errors.OutsideTradingZone: 422,
    errors.NoSurplus: 409,
    errors.SurplusExceedsRight: 409,  # like NoSurplus: the right, not the request
    errors.InvalidInput: 422,
    errors.InsufficientFunds: 409,  # like InsufficientHoldings: the state, not the request
    errors.FourEyesViolation: 403,  # this administrator may not; another may
    errors.PermissionDenied: 403,
    errors.AuthenticationFailed: 401,
}


#: problem ``type`` codes of the HTTP-level refusals Starlette raises itself (unknown path…)
HTTP_CODES = {400: "bad-request", 404: "not-found", 405: "method-not-allowed",
              413: "payload-too-large", 415: "unsupported-media-type"}


#: storage-level failures (503 with ``Retry-After``; the problem type is the error's code):
#: StorageUnavailable: nothing was stored, retry later; OutcomeUnknown: it may have been
#: stored, retry with the same Idempotency-Key
STORAGE_ERRORS: tuple[type[StorageError], ...] = (StorageUnavailable, OutcomeUnknown)

#: errnos of an OSError that mean the disk, not the request, is at fault
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


def storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the store (or its disk) failing, rather than a bug: the event
    store's persistence errors, SQLite's and PostgreSQL's own, a full or broken disk."""
    from eventsourcing.persistence import IntegrityError, PersistenceError

    if isinstance(exc, IntegrityError):
        return False  # a conflict that escaped its retry is a bug, not an outage
    if isinstance(exc, (PersistenceError, sqlite3.OperationalError)):
        return True
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, psycopg.OperationalError)


def _raw_storage_errors() -> list[type[Exception]]:
    from eventsourcing.persistence import PersistenceError

    found: list[type[Exception]] = [PersistenceError, sqlite3.Error, OSError]
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return found
    return [*found, psycopg.Error]


def storage_problem(code: str, title: str, detail: str) -> JSONResponse:
    """503 with ``Retry-After``: the store, not the request, is at fault."""
    response = problem(503, code, title, detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def saving(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app`` on an HTTP request counting the saves it commits
    (`registry.storage.committed_saves`), so that a storage failure after its write is
    answered ``outcome-unknown``. The last step of `api.stack.RequestStack`."""
    token = committed_saves.set([])
    try:
        await app(scope, receive, send)
    finally:
        committed_saves.reset(token)


class Problem(BaseModel):
    """The body of every error response (RFC 9457 problem details)."""

    model_config = ConfigDict(extra="forbid")
    type: str
    title: str
    status: int
    detail: str


class ApiError(Exception):
    """An HTTP-level refusal (authentication, authorisation) with a stable problem code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def status_of(exc: errors.RegistryError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 422  # any other refusal is about the request, never a server error


def problem(status: int, code: str, title: str, detail: str) -> JSONResponse:
    """An RFC 9457 problem document."""
    return JSONResponse(
        {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail},
        status_code=status, media_type=PROBLEM,
    )


def install(app: FastAPI) -> None:
    """Register the handlers: domain refusals and request validation become problems."""

    @app.exception_handler(errors.RegistryError)
    def registry_error(_: Request, exc: errors.RegistryError) -> JSONResponse:
        return problem(status_of(exc), exc.code, type(exc).__name__, str(exc))

    @app.exception_handler(ApiError)
    def api_error(_: Request, exc: ApiError) -> JSONResponse:
        response = problem(exc.status, exc.code, exc.code.replace("-", " ").capitalize(),
                           exc.detail)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http-error")
        title = (HTTPStatus(exc.status_code).phrase
                 if exc.status_code in HTTPStatus._value2member_map_ else "HTTP error")
        response = problem(exc.status_code, code, title, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            methods = documented_methods(request.app, request.url.path)
            if methods:
                response.headers["Allow"] = ", ".join(methods)
        return response

    # Storage failures are answered here, not by the catch-all (which drops the connection
    # after answering): the client keeps its keep-alive connection and is told to retry.
    @app.exception_handler(StorageError)
    def storage_error(_: Request, exc: StorageError) -> JSONResponse:
        return storage_problem(exc.code, type(exc).__name__, str(exc))

    def raw_storage_error(_: Request, exc: Exception) -> JSONResponse:
        if not storage_failure(exc):
            log.error("unexpected error", exc_info=exc)
            return problem(500, "internal-error", "Internal server error",
                           "the request failed unexpectedly; the error has been logged")
        log.warning("storage failure: %s", exc)
        if committed_saves.get():  # this request's write went in before the store failed
            return storage_problem("outcome-unknown", "OutcomeUnknown",
                                   "the write was stored, but the store failed before its "
                                   "outcome could be read; retry with the same "
                                   "Idempotency-Key")
        return storage_problem("storage-unavailable", "StorageUnavailable",
                               "the store cannot be reached or refuses writes; nothing of "
                               "this request was stored")

    for cls in _raw_storage_errors():
        app.add_exception_handler(cls, raw_storage_error)

    @app.exception_handler(Exception)
    def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (Starlette re-raises after answering); the
        # client learns nothing about the internals.
        return problem(500, "internal-error", "Internal server error",
                       "the request failed unexpectedly; the error has been logged")

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return problem(422, "invalid-request", "Invalid request", where)
