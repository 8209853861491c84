"""Dependencies: the app state, a pooled connection, the authenticated principal, role checks.

Use the ``Annotated`` aliases in route signatures::

    @router.get("/thing")
    def thing(state: StateDep, conn: ConnDep, who: Annotated[Principal, Depends(require_roles("admin"))]): ...

A key is read from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; it is hashed and compared in
constant time (:func:`store.keys.verify_key`), a revoked key is refused, and each key draws
from its own token bucket (429 with ``Retry-After`` when empty).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import psycopg
import psycopg_pool
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api import throttle
from api.errors import ApiError, forbidden
from api.state import AppState
from matching.domain import vocab
from store import keys as keys_db

ROLES = vocab.ROLES.codes
STAFF = ("admin", "operator")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="capconnect"'}


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    Attributes:
        key_id: the API key's id (recorded on served lists and events).
        key_shown: the key's public form (``cck_<prefix>_…``), safe to log.
        role: admin, operator, investor, enterprise or data_scientist.
        investor_id: the investor an investor key acts for.
        enterprise_id: the enterprise an enterprise key acts for.
    """

    key_id: int
    key_shown: str
    role: str
    investor_id: int | None = None
    enterprise_id: int | None = None

    @property
    def is_staff(self) -> bool:
        """Admin or operator: may act for any investor or enterprise."""
        return self.role in STAFF

    def may_act_for_investor(self, investor_id: int) -> bool:
        """Staff, or the investor's own key."""
        return self.is_staff or (self.role == "investor" and self.investor_id == investor_id)

    def may_act_for_enterprise(self, enterprise_id: int) -> bool:
        """Staff, or the enterprise's own key."""
        return self.is_staff or (self.role == "enterprise" and self.enterprise_id == enterprise_id)


def get_state(request: Request) -> AppState:
    """The state the lifespan built."""
    state = getattr(request.app.state, "capconnect", None)
    if state is None:  # only when the app runs without its lifespan
        raise ApiError(503, "unavailable", "服务尚未就绪", "The service is starting; retry shortly")
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_conn(state: StateDep) -> Iterator[psycopg.Connection]:
    """A pooled connection (autocommit; write through ``with conn.transaction()``)."""
    with state.pool.connection() as conn:
        yield conn


ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]


_bearer = HTTPBearer(auto_error=False, description="The API key: `Authorization: Bearer cck_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key, as a header of its own")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
HeaderKeyDep = Annotated[str | None, Depends(_header)]


def presented_key(bearer: HTTPAuthorizationCredentials | None, header_key: str | None) -> str:
    """The key a request presents (``Authorization: Bearer`` first, then ``X-API-Key``), or ``""``."""
    return (bearer.credentials.strip() if bearer else "") or (header_key or "").strip()


def authenticate(state: AppState, presented: str, address: str) -> Principal:
    """The principal of a presented key (no rate limit here: :func:`get_principal` draws the token).

    An address that sent too many invalid keys (and failed sign-ins) is refused before its key is looked up;
    an invalid or revoked key counts one failure against it (:mod:`api.throttle`).

    Raises:
        ApiError: 401 without a key, with an unknown or revoked key; 429 for a throttled address.
    """
    if not presented:
        raise ApiError(401, "unauthorized", "缺少 API 密钥", "An API key is required: send 'Authorization: Bearer "
                       "<key>' (create one with `capconnect keys create`)", headers=_CHALLENGE)
    with state.pool.connection() as conn:
        throttle.check(state, address, conn)
        key = keys_db.verify_key(conn, presented)
    if key is None or key.revoked:
        throttle.failed(state, address)
    if key is None:
        raise ApiError(401, "unauthorized", "API 密钥无效", "The API key is not valid", headers=_CHALLENGE)
    if key.revoked:
        raise ApiError(401, "unauthorized", "API 密钥已被吊销", f"The API key {key.shown} was revoked; ask an "
                       "administrator for a new one", headers=_CHALLENGE)
    return Principal(key.id, key.shown, key.role, key.investor_id, key.enterprise_id)


def get_principal(request: Request, state: StateDep, bearer: BearerDep, header_key: HeaderKeyDep) -> Principal:
    """Authenticate the request and take a token from the key's bucket.

    A request with a body was authenticated before the body was read (:mod:`api.gate`); its principal
    is taken from there rather than looked up again.

    Raises:
        ApiError: 401 without a key, with an unknown or revoked key; 429 when rate limited.
    """
    who = getattr(request.state, "authenticated", None)
    if not isinstance(who, Principal):
        who = authenticate(state, presented_key(bearer, header_key), throttle.client_address(request))
    request.state.principal = who  # the access log names the key by its prefix
    wait = state.limiter.acquire(who.key_id)
    if wait > 0:
        raise ApiError(429, "rate_limited", "请求过于频繁，请稍后重试",
                       f"Rate limit of {state.limiter.burst} requests per {state.limiter.window_seconds} s per "
                       "key, counted over every worker, reached; retry after the Retry-After seconds",
                       headers={"Retry-After": state.limiter.retry_after(wait)})
    return who


def optional_principal(request: Request, state: StateDep, bearer: BearerDep, header_key: HeaderKeyDep
                       ) -> Principal | None:
    """The caller's principal when it sends a valid key, else ``None`` (for routes open to anyone that
    show more to staff, such as ``/readyz``)."""
    presented = presented_key(bearer, header_key)
    if not presented:
        return None
    try:
        return authenticate(state, presented, throttle.client_address(request))
    except (ApiError, psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed):  # anonymous, even if down
        return None


PrincipalDep = Annotated[Principal, Depends(get_principal)]
OptionalPrincipalDep = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency admitting only ``roles`` (403 naming the roles that may)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; allowed: {ROLES}")

    def check(who: PrincipalDep) -> Principal:
        return authorize(who, *roles)

    return check


def authorize(who: Principal, *roles: str) -> Principal:
    """``who`` when its role is one of ``roles``, else a 403 naming the roles that may (what
    :func:`require_roles` checks; the service layer, :mod:`api.services`, checks it again itself)."""
    if who.role not in roles:
        raise forbidden(f"角色 {who.role} 无权访问；允许的角色：{', '.join(roles)}",
                        f"Keys of role {who.role} may not call this; allowed roles: {', '.join(roles)}")
    return who
