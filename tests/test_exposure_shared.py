"""Exposure counts shared through PostgreSQL: ``exposure_daily`` (migration 0011) counts every logged list once,
:class:`ShownCounts` takes the shared counts and goes on counting locally, :class:`ExposureSync` reads them back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import psycopg_pool
import pytest
from helpers_live import load_market

from api.exposure import ExposureSync, merged
from matching.serving.exposure import ShownCounts, exposure_rows
from matching.snapshot.core import MarketSnapshot, build_snapshot
from matching.synth.generator import generate_market
from store import exposure as exposure_db
from store.database import Database
from store.lists import ServedList, exposure_counts, write_lists, write_lists_if_absent


@pytest.fixture
def market(db: Database) -> Iterator[tuple[str, list[int], int]]:
    """A small generated market: (database URL, six enterprise ids, an investor id)."""
    load_market(db.url, enterprises=30, investors=6, seed=3)
    with psycopg.connect(db.url, autocommit=True) as conn:
        ents = [r[0] for r in conn.execute("SELECT id FROM enterprises ORDER BY id LIMIT 6")]
        inv = conn.execute("SELECT min(id) FROM investors").fetchone()[0]
    yield db.url, ents, inv


def _list(investor_id: int, enterprise_ids: list[int]) -> ServedList:
    lid = uuid.uuid4()
    header = (lid, "investor", investor_id, None, None, None, json.dumps({"k": len(enterprise_ids)}))
    items = [(lid, pos + 1, e, investor_id, None, None, 1.0 / (pos + 1), ["semantic"], "{}")
             for pos, e in enumerate(enterprise_ids)]
    return ServedList(lid, header, items)


def _snapshot(ids: list[int]) -> MarketSnapshot:
    m = generate_market(len(ids), 2, 2, seed=1)
    return build_snapshot(m.enterprises, m.investors, enterprise_ids=ids)


def _from_log(conn: psycopg.Connection) -> dict[int, int]:
    rows = conn.execute("SELECT i.enterprise_id, count(*) FROM served_list_items i WHERE i.enterprise_id IS NOT NULL "
                        "GROUP BY 1").fetchall()
    return {int(e): int(n) for e, n in rows}


def test_every_logged_list_is_counted_once_whatever_path_wrote_it(market: tuple[str, list[int], int]) -> None:
    url, e, inv = market
    a, b, c = _list(inv, [e[0], e[1], e[2]]), _list(inv, [e[1], e[2]]), _list(inv, [e[2], e[3]])
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        write_lists(conn, [a, b])  # the impression writer's COPY batch
        write_lists_if_absent(conn, [b, c])  # an event writing a list at once: b is there already, c is new
        expected = {e[0]: 1, e[1]: 2, e[2]: 3, e[3]: 1}
        assert _from_log(conn) == expected
        assert exposure_counts(conn, now) == expected
        assert exposure_db.shown_in_period(conn, now) == expected
        day = conn.execute("SELECT DISTINCT day FROM exposure_daily").fetchall()
        assert day == [(exposure_db.utc_day(now),)]


def test_a_list_counts_on_its_day_and_leaves_the_period_with_it(market: tuple[str, list[int], int]) -> None:
    url, e, inv = market
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    old, recent = _list(inv, [e[0], e[1]]), _list(inv, [e[1]])
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():  # the lists' own times: the days they were served
            for sl, at in ((old, now - timedelta(days=31)), (recent, now - timedelta(days=29, hours=23))):
                conn.execute("INSERT INTO served_lists (id, side, investor_id, created_at) VALUES (%s, 'investor', %s, "
                             "%s)", (sl.id, inv, at))
                for row in sl.items:
                    conn.execute("INSERT INTO served_list_items (list_id, position, enterprise_id, investor_id, score) "
                                 "VALUES (%s, %s, %s, %s, %s)", (row[0], row[1], row[2], row[3], row[6]))
        assert exposure_db.shown_in_period(conn, now) == {e[1]: 1}  # the 31-day-old list is out of the period
        assert exposure_db.shown_in_period(conn, now, days=40) == {e[0]: 1, e[1]: 2}
        assert exposure_db.prune(conn, now) == 2  # the old day's two rows
        assert exposure_db.shown_in_period(conn, now, days=40) == {e[1]: 1}


def test_shown_counts_take_the_shared_counts_and_count_locally_until_the_next_read() -> None:
    counts = ShownCounts({10: 3})
    counts.record([10, 20, 20])
    assert dict(counts) == {10: 4, 20: 2}
    counts.replace(np.array([20, 50]), np.array([7, 1]))  # the database's, read after those shows were logged
    assert dict(counts) == {20: 7, 50: 1}
    counts.record([50])
    assert counts[50] == 2 and counts[20] == 7
    with pytest.raises(KeyError):
        counts[10]
    with pytest.raises(ValueError, match="ascending and distinct"):
        counts.replace(np.array([5, 3]), np.array([1, 1]))
    with pytest.raises(ValueError, match="2 enterprise ids but 1 counts"):
        counts.replace(np.array([3, 5]), np.array([1]))


def test_counts_by_row_follow_the_snapshot_ids_in_any_order() -> None:
    snap = _snapshot([40, 10, 30, 20])
    counts = ShownCounts()
    counts.replace(np.array([10, 20, 99]), np.array([5, 2, 8]), snap)  # 99: not in this market
    assert exposure_rows(snap, counts).tolist() == [0, 5, 0, 2]
    counts.record([40, 10, 99])
    assert exposure_rows(snap, counts).tolist() == [1, 6, 0, 2]  # kept in step, row by row
    assert counts[99] == 9  # an id outside the snapshot is still counted (another market may hold it)


def test_merged_sums_per_id() -> None:
    ids, n = merged((np.array([1, 4, 9]), np.array([2, 1, 5])), (np.array([4, 7]), np.array([3, 1])))
    assert ids.tolist() == [1, 4, 7, 9] and n.tolist() == [2, 4, 1, 5]


def test_the_sync_replaces_a_process_counts_with_every_process_shows(market: tuple[str, list[int], int]) -> None:
    url, e, inv = market
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO served_lists (id, side, investor_id, created_at) VALUES (%s, 'investor', %s, %s)",
                     (uuid.uuid4(), inv, now))
        write_lists(conn, [_list(inv, [e[0], e[1]])])  # "another process" served these today
        yesterday = _list(inv, [e[1]])
        conn.execute("INSERT INTO served_lists (id, side, investor_id, created_at) VALUES (%s, 'investor', %s, %s)",
                     (yesterday.id, inv, now - timedelta(days=1)))
        conn.execute("INSERT INTO served_list_items (list_id, position, enterprise_id, investor_id, score) "
                     "VALUES (%s, 1, %s, %s, 1)", (yesterday.id, e[1], inv))
    counts = ShownCounts()
    counts.record([e[5]])  # this process's own show, logged nowhere yet
    snap = _snapshot(e)
    with psycopg_pool.ConnectionPool(url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
        sync = ExposureSync(pool, counts, lambda: snap, interval=60)
        assert sync.refresh(now) == 2
        assert dict(counts) == {e[0]: 1, e[1]: 2}  # this process's unlogged show is counted again once logged
        assert exposure_rows(snap, counts).tolist() == [1, 2, 0, 0, 0, 0]
        with psycopg.connect(url, autocommit=True) as conn:
            write_lists(conn, [_list(inv, [e[0]])])
        sync.refresh(now)  # today's rows read again; the closed days from the first read
        assert dict(counts) == {e[0]: 2, e[1]: 2}


def test_two_transactions_logging_lists_in_opposite_orders_never_deadlock(market: tuple[str, list[int], int]) -> None:
    """Each statement counts its rows in key order, but a transaction may log lists in several statements; two
    of them counting enterprises in opposite orders deadlocked (PostgreSQL aborted one: an event's 503 under
    load). 0012's advisory lock makes the second wait for the first to commit instead."""
    import threading
    import time

    url, e, inv = market
    errors: list[BaseException] = []
    with psycopg.connect(url, autocommit=True) as c1, psycopg.connect(url, autocommit=True) as c2:
        tx1 = c1.transaction()
        tx1.__enter__()
        write_lists(c1, [_list(inv, [e[1]])])  # transaction 1 counts e1

        def second() -> None:  # transaction 2: e0, then e1 (held by transaction 1 until it commits)
            try:
                with c2.transaction():
                    write_lists(c2, [_list(inv, [e[0]])])
                    time.sleep(0.3)
                    write_lists(c2, [_list(inv, [e[1]])])
            except BaseException as exc:  # noqa: BLE001 - the deadlock, reported below
                errors.append(exc)

        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.1)
        try:
            write_lists(c1, [_list(inv, [e[0]])])  # transaction 1: e0 (held by transaction 2, before the lock)
            tx1.__exit__(None, None, None)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            tx1.__exit__(type(exc), exc, exc.__traceback__)
        other.join(30)
        assert not other.is_alive()
        assert errors == [], errors
        assert {k: v for k, v in exposure_counts(c1, datetime.now(UTC)).items() if k in (e[0], e[1])} == \
            {e[0]: 2, e[1]: 2}


def test_shown_counts_length_and_truth_without_listing_every_id() -> None:
    """`len` and `bool` agree with the mapping's keys (base and local, overlapping or not), empty or not."""
    empty = ShownCounts()
    assert not empty and len(empty) == 0 and list(empty) == []
    counts = ShownCounts({10: 3, 20: 1})
    assert counts and len(counts) == 2
    counts.record([20, 30, 30, 40])
    assert len(counts) == len(list(counts)) == 4 and sorted(counts) == [10, 20, 30, 40]
    only_local = ShownCounts()
    only_local.record([7])
    assert only_local and len(only_local) == 1 and dict(only_local) == {7: 1}
