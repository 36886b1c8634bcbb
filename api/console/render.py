"""Server-rendered pages: one Jinja environment per language, with the translations installed
and the filters that show stored integers as tonnes and yuan (``api.console.amounts``)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.console import terms
from api.console.amounts import display_unit, tonnes_text, yuan_text
from api.console.i18n import COOKIE, LANGUAGES, Language, negotiate, translations
from api.console.sessions import COOKIE as SESSION_COOKIE
from api.console.sessions import current_session

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC_URL = "/console/static"
#: a year: the choice is the person's, kept until they change it
COOKIE_MAX_AGE = 365 * 24 * 3600


@functools.cache
def environment(language: Language) -> Environment:
    """The templates in ``language``; built once per language and reused by every request."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    messages = translations(language)
    env.install_gettext_translations(messages, newstyle=True)  # type: ignore[attr-defined]
    gettext = messages.gettext
    locale = language.locale

    def quantity(kg: int, kind: str | None = None) -> str:
        return f"{tonnes_text(kg, locale)} {gettext(terms.UNITS[display_unit(kind)])}"

    def money(fen: int) -> str:
        return f"{yuan_text(fen, locale)} {gettext(terms.CURRENCY)}"

    def unit_price(fen: int, kind: str | None = None) -> str:
        return f"{yuan_text(fen, locale)} {gettext(terms.PRICE_UNITS[display_unit(kind)])}"

    def term(code: str, table: str) -> str:
        return gettext(terms.label(getattr(terms, table), code))

    env.filters.update(
        quantity=quantity, money=money, unit_price=unit_price, term=term,
        tonnes=lambda kg: tonnes_text(kg, locale), yuan=lambda fen: yuan_text(fen, locale),
        zone=lambda zone: gettext(terms.zone_name(zone)),
        when=lambda iso: iso[:16].replace("T", " ") if iso else "",
    )
    env.globals.update(language=language, languages=LANGUAGES, static=static_url)
    return env


def static_url(path: str) -> str:
    return f"{STATIC_URL}/{path}"


def language_of(request: Request) -> Language:
    return negotiate(request.query_params.get("lang"), request.cookies.get(COOKIE),
                     request.headers.get("accept-language"))


def switch_url(request: Request, language: Language) -> str:
    """This page in ``language``: the same path and query with ``lang`` replaced."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    query.append(("lang", language.tag))
    return f"{request.url.path}?{urlencode(query)}"


class RenderedPages:
    """The HTML of recently rendered pages, by everything they were rendered from: a page
    whose handler names all its inputs (the log position of the view it shows, its query)
    is rendered once per language until the registry moves on."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            html = self._pages.get(key)
            if html is not None:
                self._pages.move_to_end(key)
            return html

    def put(self, key: Hashable, html: str) -> None:
        with self._lock:
            self._pages[key] = html
            if len(self._pages) > self.size:
                self._pages.popitem(last=False)


def page(request: Request, template: str, *, title: str, status: int = 200,
         inputs: Hashable | None = None, cache: RenderedPages | None = None,
         lazy: Callable[[], dict[str, Any]] | None = None, **context: Any) -> HTMLResponse:
    """Render ``template`` in the request's language. ``title`` is an English msgid. A
    ``?lang=`` choice is remembered in a cookie; the answer varies with the cookie and the
    browser's languages, so caches keep one copy per language.

    ``inputs``, when given with the app's ``cache``, must determine ``context`` entirely with
    the path and query (e.g. the log position of the view shown): the page is then rendered
    once and reused for the same inputs. ``lazy`` gives more of the context, read only when
    the page is rendered (not when a rendered copy is reused)."""
    language = language_of(request)
    session = None
    if SESSION_COOKIE in request.cookies:
        session = current_session(request)
    key = None if inputs is None or cache is None else (
        template, language.tag, request.url.path, str(request.url.query), inputs,
        session.csrf if session else None)
    html = None if key is None or cache is None else cache.get(key)
    if html is None:
        if lazy is not None:
            context.update(lazy())
        env = environment(language)
        gettext = translations(language).gettext
        html = env.get_template(template).render(
            request=request, title=gettext(title), path=request.url.path, session=session,
            switch={lang.tag: switch_url(request, lang) for lang in LANGUAGES}, **context)
        if key is not None and cache is not None:
            cache.put(key, html)
    response = HTMLResponse(html, status_code=status)
    response.headers["Vary"] = "Cookie, Accept-Language"
    response.headers["Content-Language"] = language.tag
    if "lang" in request.query_params and request.cookies.get(COOKIE) != language.tag:
        response.set_cookie(COOKIE, language.tag, max_age=COOKIE_MAX_AGE, path="/",
                            samesite="lax", httponly=True)
    return response
