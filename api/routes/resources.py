"""The market's resources as one router: enterprises, investors and mandates, needs, secondaries, uploads,
support programmes.

Each part lives in its own module (:mod:`api.routes.enterprises`, :mod:`api.routes.investors`,
:mod:`api.routes.listings`, :mod:`api.routes.uploads`); the app includes this router once.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import enterprises, investors, listings, programmes, uploads

router = APIRouter()
for _part in (enterprises, investors, listings, uploads, programmes):
    router.include_router(_part.router)
