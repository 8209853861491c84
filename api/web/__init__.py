"""The web console: server-rendered pages for investors, enterprises, operators and data scientists.

Served by the API's own app under ``/web`` (static files under ``/web/static``, all local), signed in
with the same API keys and roles. Chinese by default, English with ``?lang=en``. Pages translate HTTP
to the service layer the API's routes call (:mod:`api.services`, which checks the principal itself) and
the core; they hold no business rules of their own and never import a route module
(``tests/test_layering.py``).

* ``/web/signin``, ``/web/signout``: :mod:`api.web.auth`
* ``/web/investor``, ``/web/enterprises/{id}``, ``/web/enterprise``: :mod:`api.web.parties`
* ``/web/operator``, ``/web/models``: :mod:`api.web.staff`
* ``/web/programmes`` and the enterprise page's programmes panel: :mod:`api.web.programmes`
* ``/web/enterprise/needs`` (publish a need) and the financing products: :mod:`api.web.newcomer`
* ``/web/models/retrain`` and the models page's job panel: :mod:`api.web.retrain`
* ``/web/readiness`` (上市培育进度) and the enterprise page's readiness panel: :mod:`api.web.readiness`
* ``/web/exports/profiles`` (企业画像 for government platforms, a download): :mod:`api.web.exports`
* ``/web/alerts`` (提醒: alerts, alert settings, saved searches, the webhook) and the navigation's unread count:
  :mod:`api.web.alerts`
* ``/web/needs/{id}/syndicates`` and the deal cards' 组建银团/联合投资 panel: :mod:`api.web.syndicates`
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from api.web import alerts, auth, exports, newcomer, parties, programmes, readiness, retrain, staff, syndicates
from api.web.common import STATIC_DIR, PageError, SignInNeeded, page_error, signin_redirect

router = APIRouter()
for _part in (auth, parties, newcomer, alerts, staff, retrain, programmes, readiness, exports, syndicates):
    router.include_router(_part.router)

#: Paths whose bodies may be as large as a bulk upload (the app's ``body_limits``).
UPLOAD_PATHS = ("/web/operator/import",)


def install(app: FastAPI) -> None:
    """Mount the console's pages, its static files and its error pages on ``app``."""
    app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    app.add_exception_handler(SignInNeeded, signin_redirect)
    app.add_exception_handler(PageError, page_error)
