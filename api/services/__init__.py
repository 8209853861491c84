"""The service layer: the operations the API's routes and the web console's pages share.

Each operation takes the authenticated :class:`~api.deps.Principal` and checks, itself, what the
route's FastAPI declarations check (the roles, the ids a path names) before its own rules (the
party a key acts for, disclosure, validation), so a caller that is not a route (the console's pages
in :mod:`api.web`) gets the same checks. Routes (:mod:`api.routes`) translate HTTP to these calls;
the console never calls a route function (``tests/test_layering.py``). Errors are
:class:`~api.errors.ApiError` (and the core's errors), which each caller shows its own way.

- :mod:`api.services.checks`: the shared checks (roles, ids).
- :mod:`api.services.matching`: ranked lists (deals, investors, secondaries, search), logged as served.
- :mod:`api.services.events`: recording a funnel event.
- :mod:`api.services.enterprises`: an enterprise as disclosure lets a caller see it.
- :mod:`api.services.reports`: the outcome report.
- :mod:`api.services.models`: model versions: list, promote, roll back.
- :mod:`api.services.imports`: bulk import of an uploaded file.
"""
