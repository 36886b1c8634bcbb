"""The order routes' fast path (`registry.speedups` ``order_route``): a well-formed request
answered without FastAPI resolving its dependencies one by one.

FastAPI answers every request by solving the route's dependant: the app-wide query check, the
path parameter, the body, the principal, the state and the request, each through the same
general machinery (parameter groups, cache keys, callable checks), then the endpoint, then the
answer validated and serialised. For ``POST /markets/{instrument}/orders`` that machinery was
a quarter of what the event loop spent on the request. `OrderRoute` is the class of the order
routes (the single order and the bulk entry): its handler takes a request whose every part is
what the plain path would accept as it is (no query string, ``Content-Type:
application/json``, a body the route's body model validates, an instrument its path pattern
allows, a principal the request's authentication left), calls the endpoint with the same
values (a plain ``def`` endpoint in the thread pool, as FastAPI runs it), and answers what it
returns: a response as it is, anything else serialised with FastAPI's own
`serialize_response` and response field, into the response FastAPI builds. Anything else, and
everything when the speed-up is off, goes to FastAPI's handler, which answers it (errors
included) as before; a request is sent there before anything of it is done.

The body is parsed by orjson (a bulk entry's thousand items took the standard library's
parser 1.6 ms), which takes exactly the JSON texts ``json.loads`` takes and gives the same
values for them, but for what it refuses (a number beyond 64 bits, NaN, a lone surrogate, a
text not in UTF-8): those go to FastAPI's handler, which parses them as before.
`tests/api/test_order_route.py` sends the same requests both ways and requires the same
statuses, headers and bodies.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute, serialize_response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.auth import current_user
from api.deps import get_state
from api.schemas.markets import INSTRUMENT_PATTERN

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

#: the instrument path parameter's constraints (`api.schemas.markets.InstrumentPath`)
_INSTRUMENT = re.compile(INSTRUMENT_PATTERN)
_INSTRUMENT_MAX = 60


class OrderRoute(APIRoute):
    """The route class of the order routes: FastAPI's handler behind the fast path."""

    def get_route_handler(self) -> Handler:
        plain = super().get_route_handler()
        model = _body_model(self)  # the fast path hands over only what it knows of
        if model is None:
            return plain
        endpoint, field, status_code = self.endpoint, self.response_field, self.status_code
        is_coroutine = inspect.iscoroutinefunction(endpoint)

        async def handler(request: Request) -> Response:
            values = await _taken(request, model)
            if values is None:
                return await plain(request)
            answer = (await endpoint(**values) if is_coroutine
                      else await run_in_threadpool(endpoint, **values))
            if isinstance(answer, Response):  # as FastAPI answers it (no background tasks)
                return answer
            content = await serialize_response(field=field, response_content=answer,
                                               is_coroutine=is_coroutine, dump_json=True)
            return Response(content=content, media_type="application/json",
                            status_code=status_code)

        return handler


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    """The body's model if the route's parameters are those `_taken` fills: the path's
    instrument, a body of one model, the principal, the state and the request, nothing
    else; otherwise None."""
    d = route.dependant
    known = ([p.name for p in d.path_params] == ["instrument"]
             and [p.name for p in d.body_params] == ["body"]
             and not (d.query_params or d.header_params or d.cookie_params)
             and [x.call for x in d.dependencies] == [current_user, get_state]
             and d.request_param_name == "request"
             and d.response_param_name is None and d.background_tasks_param_name is None)
    model = d.body_params[0].field_info.annotation if known else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


async def _taken(request: Request, model: type[BaseModel]) -> dict[str, Any] | None:
    """The endpoint's values if the plain path would take the request as it is (then every
    dependency only hands its value over), or None."""
    scope = request.scope
    state = request.app.state.registry_state
    if not state.registry.speedups.order_route or scope.get("query_string"):
        return None  # a query string: the app-wide check has something to say
    principal = scope.get("state", {}).get("principal")  # left by `api.auth.authenticate`
    if principal is None:
        return None
    content_type = None
    for name, value in scope["headers"]:  # the first, as Starlette's headers give it
        if name.lower() == b"content-type":
            content_type = value
            break
    instrument = request.path_params.get("instrument")
    if (content_type != b"application/json" or not isinstance(instrument, str)
            or len(instrument) > _INSTRUMENT_MAX or _INSTRUMENT.fullmatch(instrument) is None):
        return None
    raw = await request.body()  # kept by the request: the plain path reads the same bytes
    try:  # the value `Request.json` parses, validated as FastAPI's body field does
        body = model.model_validate(orjson.loads(raw))
    except ValueError:  # not JSON orjson takes (JSONDecodeError), or a ValidationError
        return None
    return {"instrument": instrument, "body": body, "user": principal, "state": state,
            "request": request}
