"""``/docs`` (Swagger UI) and ``/redoc`` over the copies vendored at set-up: the pages load
their scripts and styles from this service, never from a CDN, and ask no other host for
anything (Swagger UI's online validator badge is switched off, ReDoc loads no web fonts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from api.console.render import environment, language_of

router = APIRouter(include_in_schema=False)
OPENAPI_URL = "/openapi.json"


def _render(request: Request, template: str) -> HTMLResponse:
    # the viewers' own text is English; the page around them follows the console's language
    html = environment(language_of(request)).get_template(template).render(
        openapi_url=OPENAPI_URL, title=request.app.title)
    return HTMLResponse(html)


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    return _render(request, "docs/swagger.html")


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    return _render(request, "docs/redoc.html")
