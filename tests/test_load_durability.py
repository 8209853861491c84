"""Load with durability: a live uvicorn on loopback, concurrent clients, deliberate retries, nothing lost.

Eight client threads read deal lists and post funnel events with idempotency keys for
``LOAD_SECONDS``; a fifth of the events are sent twice at the same moment, three in ten again after
their answer. Afterwards every acknowledged event (201, or 200 for a repeat) is stored exactly once,
and no request got a 5xx or a broken connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import TEMPLATE, _with_db
from helpers_live import investor_parties, load_market

from bench.live_server import Load, list_counts, serve, stored_counts

LOAD_SECONDS = 10


@pytest.fixture(scope="module")
def live_db(pg_admin_url: str, template_url: str) -> Iterator[str]:
    name = f"load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = _with_db(pg_admin_url, name)
    try:
        load_market(url)
        yield url
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_concurrent_clients_with_retries_lose_and_duplicate_nothing(live_db: str, tmp_path: Path) -> None:
    parties = investor_parties(live_db)
    with psycopg.connect(live_db, autocommit=True) as conn:
        before = conn.execute("SELECT count(*) FROM funnel_events").fetchone()[0]
    with serve(live_db, tmp_path, log=tmp_path / "server.log") as base:
        figures = Load(base, parties, threads=8, seed=1).run(LOAD_SECONDS)
    with psycopg.connect(live_db, autocommit=True) as conn:
        stored = stored_counts(conn, figures.acknowledged)
        after = conn.execute("SELECT count(*) FROM funnel_events").fetchone()[0]
        lists = list_counts(conn, figures.served_lists)
    assert lists["served"] > 50 and lists["lost"] == 0 and lists["dead_letters"] == 0, lists  # the impression log
    print(f"\nrequests {figures.requests}, statuses {dict(figures.statuses)}, transport errors "
          f"{figures.transport_errors}, retries {figures.retries}, acknowledged {len(figures.acknowledged)}, "
          f"stored once {stored.get(1, 0)}, events added {after - before}")
    assert figures.requests > 200 and figures.retries > 20 and len(figures.acknowledged) > 50
    assert figures.server_errors == 0 and figures.statuses[503] == 0 and figures.transport_errors == 0
    assert set(figures.statuses) <= {200, 201}, dict(figures.statuses)
    assert stored == {1: len(figures.acknowledged)}  # every acknowledged event exactly once
    assert after - before == len(figures.acknowledged)  # and nothing that was not acknowledged
