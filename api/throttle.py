"""Sign-in and invalid-key throttling per client address, shared by every worker (:mod:`store.throttle`).

A failed console sign-in, and an API key or console session token that names nothing valid, counts one failure
against the client's address. An address with ``auth_max_failures`` failures within
``auth_failure_window_seconds`` is refused (429, ``Retry-After``) before any key it sends is looked up, valid
or not, until its oldest failure leaves the window: guessing keys costs an attacker the window per
``auth_max_failures`` guesses. The address is the connection's peer (``request.client``); behind a proxy,
run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips`` so that it is the browser's.
"""

from __future__ import annotations

import math
from datetime import timedelta

import psycopg
from starlette.requests import HTTPConnection

from api.errors import ApiError, field_detail
from api.state import AppState
from store import throttle as throttle_db


def client_address(request: HTTPConnection) -> str:
    """The client's address as the server sees it (``unknown`` when the server does not say)."""
    return request.client.host if request.client else "unknown"


def _window(state: AppState) -> timedelta:
    return timedelta(seconds=state.settings.auth_failure_window_seconds)


def check(state: AppState, address: str, conn: psycopg.Connection | None = None) -> None:
    """Refuse an address that failed too often (on ``conn`` when given: the caller's connection, else a pooled one).

    Raises:
        ApiError: 429 ``rate_limited`` with ``Retry-After`` (the seconds until its oldest failure expires).
    """
    limit, window = state.settings.auth_max_failures, state.settings.auth_failure_window_seconds
    if conn is None:
        with state.pool.connection() as pooled:
            count, wait = throttle_db.failures(pooled, address, window=_window(state))
    else:
        count, wait = throttle_db.failures(conn, address, window=_window(state))
    if count >= limit:
        raise ApiError(429, "rate_limited",
                       f"该地址登录失败或密钥无效的次数过多（{window:g} 秒内 {count} 次），请稍后重试",
                       f"Too many failed sign-ins or invalid API keys from this address ({count} failed sign-ins or "
                       f"invalid API keys in {window:g} s); retry after the Retry-After seconds",
                       fields=[field_detail("client_address", address, f"at most {limit} failures per {window:g} s; "
                                            "retry after Retry-After seconds")],
                       headers={"Retry-After": str(max(1, math.ceil(wait)))})


def failed(state: AppState, address: str) -> None:
    """Count one failure of ``address``."""
    with state.pool.connection() as conn:
        throttle_db.record(conn, address, window=_window(state))
