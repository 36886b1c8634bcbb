"""The web console: server-rendered pages for people, served by the API's own process.

``install(app)`` adds, to the app ``api.app.create_app`` builds: the static assets under
``/console/static`` (the console's CSS and JavaScript, and the packages vendored at set-up by
``api.console.vendor``: nothing is loaded from a CDN, so everything works offline), ``/docs``
(Swagger UI) and ``/redoc`` over the vendored copies, and the console's pages
(``api.console.pages``: the public registry, open without a login). Every page is in
Simplified Chinese or English (``api.console.i18n``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    # imported here: the pages depend on api.deps and api.state, which use api.console.render
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from api.console import admin, agency, auditor, docs, enterprise, login, pages, tokens
    from api.console.render import HERE, STATIC_URL
    from api.console.roles import SignInFirst

    app.mount(STATIC_URL, StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(docs.router)
    app.include_router(pages.root)
    app.include_router(pages.router)
    app.include_router(login.router)
    app.include_router(auditor.router)
    app.include_router(tokens.router)
    app.include_router(admin.router)
    app.include_router(enterprise.router)
    app.include_router(agency.router)
    # a role's page without a session leads to the sign-in form
    app.add_exception_handler(SignInFirst, lambda *_: RedirectResponse("/console/login",
                                                                       status_code=303))
