"""One table maps domain errors to HTTP statuses; every error is ``application/problem+json``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain import errors

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
    errors.InvalidInput: 422,
}


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

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return problem(422, "invalid-request", "Invalid request", where)
