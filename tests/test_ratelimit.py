"""The per-key rate limit is one limit for every worker: counted in PostgreSQL, not per process
(finding 14 of issue 14: with ``--workers N`` a key could send N times the rate).

Two app instances over one database stand for two workers; the storage's counter is checked for
atomicity under concurrent hits and for a window that restarts once it expires.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg_pool
import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service

from api.app import create_app

BURST, RATE = 4, 0.01  # 4 requests per 400 s window


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("ratelimit"), api_rate_burst=BURST,
                     api_rate_per_second=RATE) as env:
        yield env


@pytest.fixture(scope="module")
def pool(api: ApiEnv) -> Iterator[psycopg_pool.ConnectionPool]:
    with psycopg_pool.ConnectionPool(api.db.url, min_size=1, max_size=8, kwargs={"autocommit": True}) as p:
        yield p


def test_two_workers_over_one_database_share_one_limit(api: ApiEnv) -> None:
    path = f"/v1/investors/{api.ids['inv']}/deals"
    with TestClient(create_app(api.settings, encoder=api.encoder)) as second:  # a second worker
        def on_second() -> int:
            return second.get(path, params={"k": 1}, headers=api.auth("inv")).status_code

        first = [api.get(path, "inv", k=1).status_code for _ in range(2)]
        other = [on_second() for _ in range(2)]
        assert first + other == [200] * BURST
        assert api.get(path, "inv", k=1).status_code == 429  # the key spent its limit on both workers
        limited = second.get(path, params={"k": 1}, headers=api.auth("inv"))
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= BURST / RATE
    err = limited.json()["error"]
    assert err["code"] == "rate_limited"
    assert "over every worker" in err["message"] and "Retry-After" in err["message"]
    assert api.get(f"/v1/investors/{api.ids['inv2']}/deals", "inv2", k=1).status_code == 200  # per key


def test_concurrent_hits_are_counted_exactly_once_each(pool: psycopg_pool.ConnectionPool) -> None:
    from store.ratelimits import PostgresStorage

    storage = PostgresStorage(pool)
    storage.clear("test/atomic")
    with ThreadPoolExecutor(8) as ex:
        counts = list(ex.map(lambda _: storage.incr("test/atomic", 60), range(200)))
    assert sorted(counts) == list(range(1, 201))  # no hit lost, none counted twice
    assert storage.get("test/atomic") == 200
    assert time.time() < storage.get_expiry("test/atomic") <= time.time() + 60


def test_an_expired_window_starts_again(pool: psycopg_pool.ConnectionPool) -> None:
    from store.ratelimits import PostgresStorage

    storage = PostgresStorage(pool)
    storage.clear("test/expiry")
    assert [storage.incr("test/expiry", 1) for _ in range(3)] == [1, 2, 3]
    time.sleep(1.1)
    assert storage.get("test/expiry") == 0
    assert storage.incr("test/expiry", 1) == 1
    assert storage.check()


def test_the_limiter_tells_the_wait_until_its_window_ends() -> None:
    from api.ratelimit import RateLimiter

    limiter = RateLimiter(rate=2.0, burst=3)  # 3 per 2 s, in memory
    assert [limiter.acquire(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire(1)
    assert 0 < wait <= 2.0
    assert limiter.acquire(2) == 0.0  # another key has its own window
    assert RateLimiter.retry_after(0.2) == "1" and RateLimiter.retry_after(2.1) == "3"
    with pytest.raises(ValueError, match="rate must be > 0 and burst >= 1"):
        RateLimiter(rate=0, burst=3)
