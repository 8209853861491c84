"""Authentication before the body: a request that carries one is authenticated before anything reads it.

FastAPI reads and parses a body (a multipart upload is spooled to disk) before it resolves a route's
dependencies, so a key checked by a dependency is checked after the work. :class:`AuthGate` runs first,
as middleware: for ``POST``, ``PUT``, ``PATCH`` and ``DELETE`` it checks the key exactly as the routes do
(the API's header: :func:`api.deps.authenticate`; the console's session under ``/web``:
:func:`api.web.common.session_principal`) and answers at once when there is none or it is not valid:
401 for the API, the sign-in redirect for the console. The
principal it found is left in ``request.state.authenticated`` for the route's own dependency (which
still applies the role checks and the rate limit), so the key is looked up once.

Only ``/web/signin`` takes a body without a key (the key is what it receives).
"""

from __future__ import annotations

import psycopg
import psycopg_pool
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api import errors
from api.deps import authenticate
from api.throttle import client_address
from api.web.common import SignInNeeded, session_principal, signin_redirect

#: Methods whose requests may carry a body.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths that take a body without a key.
OPEN_PATHS = frozenset({"/web/signin"})
_DOWN = (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed)


class AuthGate:
    """See the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        state = getattr(getattr(scope.get("app"), "state", None), "capconnect", None)
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS or path in OPEN_PATHS or state is None:
            await self.app(scope, receive, send)  # without the lifespan's state the route itself answers 503
            return
        request = Request(scope)
        try:
            if path == "/web" or path.startswith("/web/"):  # the console: its session cookie
                who = await run_in_threadpool(session_principal, request, state)
            else:
                auth = request.headers.get("authorization", "")
                scheme, _, credentials = auth.partition(" ")
                bearer = credentials.strip() if scheme.lower() == "bearer" else ""
                presented = bearer or request.headers.get("x-api-key", "").strip()
                who = await run_in_threadpool(authenticate, state, presented, client_address(request))
        except SignInNeeded as exc:
            await signin_redirect(request, exc)(scope, receive, send)
            return
        except errors.ApiError as err:
            await errors.respond(request, err.status, err.code, err.zh, err.en, err.fields, err.headers)(
                scope, receive, send)
            return
        except _DOWN as exc:
            await errors.database_down(request, exc)(scope, receive, send)
            return
        scope.setdefault("state", {})["authenticated"] = who
        await self.app(scope, receive, send)
