"""The service layer: the operations the API's routes and the web console's pages share.

Each operation takes the authenticated :class:`~api.deps.Principal` and checks, itself, what the
route's FastAPI declarations check (the roles, the ids a path names) before its own rules (the
party a key acts for, disclosure, validation), so a caller that is not a route (the console's pages
in :mod:`api.web`) gets the same checks. Routes (:mod:`api.routes`) translate HTTP to these calls;
the console never calls a route function (``tests/test_layering.py``). Errors are
:class:`~api.errors.ApiError`, the core's errors and the store's (:class:`~store.tables.Duplicate`,
:class:`~store.tables.Invalid`), which each caller shows its own way (the API: :mod:`api.errors`).

- :mod:`api.services.checks`: the shared checks (roles, ids, whose record, staff-only fields, filters).
- :mod:`api.services.crossfield`: the API's wording of the cross-field rules
  (:mod:`matching.domain.crossfield` decides them).
- :mod:`api.services.matching`: ranked lists (deals, investors, secondaries, search), logged as served.
- :mod:`api.services.events`: recording funnel events, one or a batch; reading them.
- :mod:`api.services.enterprises`: enterprises and their claims, as disclosure lets a caller see them.
- :mod:`api.services.investors`: investors and their versioned mandates.
- :mod:`api.services.listings`: financing needs and secondary listings.
- :mod:`api.services.reports`: the outcome report.
- :mod:`api.services.models`: model versions: list, promote, roll back.
- :mod:`api.services.imports`: bulk import of an uploaded file.
"""
