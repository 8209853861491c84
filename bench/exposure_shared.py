"""What sharing the exposure counts through PostgreSQL costs: ``python -m bench.exposure_shared``.

On a throwaway embedded PostgreSQL with a generated market and a synthetic impression log, it measures:

* the impression writer's batch (20 lists of 20 items, one COPY transaction) with and without the
  ``exposure_daily`` trigger (migration 0011): the cost per list, paid on the writer's thread, not in a request;
* a process's refresh (:meth:`api.exposure.ExposureSync.refresh`: today's rows, merged, placed by row), and the
  alternative it replaces, counting the impression log over 30 days, at ``--log-lists`` lists in the log;
* the request's own part (:meth:`ShownCounts.record` and :meth:`ShownCounts.rows`), unchanged: in memory.

Prints one table; nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import psycopg
import psycopg_pool

from api.exposure import ExposureSync, merged
from matching.serving.exposure import ShownCounts, exposure_rows
from matching.synth.generator import generate_market
from store.batch import MarketBatch, save_batch
from store.database import Database, upgrade
from store.embedded import EmbeddedPostgres, free_port
from store.lists import ServedList, write_lists


def _lists(n: int, investor: int, enterprises: list[int], rng: random.Random) -> list[ServedList]:
    out = []
    for _ in range(n):
        lid = uuid.uuid4()
        items = [(lid, p + 1, e, investor, None, None, 1.0, ["semantic"], "{}")
                 for p, e in enumerate(rng.sample(enterprises, 20))]
        out.append(ServedList(lid, (lid, "investor", investor, None, None, None, json.dumps({"k": 20})), items))
    return out


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.2f} ms (p90 {np.percentile(samples, 90) * 1e3:.2f})"


def run(enterprises: int, log_lists: int, shown_today: int, rounds: int) -> list[tuple[str, str]]:
    """Measure; returns (what, figure) rows."""
    rows: list[tuple[str, str]] = []
    root = Path(tempfile.mkdtemp(prefix="capconnect-pg-bench-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "pg", port=free_port())
    server.start()
    try:
        url = server.admin_url("postgres")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        url = server.admin_url("bench")
        upgrade(url)
        m = generate_market(enterprises, 50, 3, seed=1)
        save_batch(Database(url=url), MarketBatch(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries,
                                                  m.events))
        rng = random.Random(0)
        with psycopg.connect(url, autocommit=True) as conn:
            ents = [r[0] for r in conn.execute("SELECT id FROM enterprises")]
            inv = conn.execute("SELECT min(id) FROM investors").fetchone()[0]
            # the log: log_lists lists over the last 30 days, counted into exposure_daily as the trigger would
            conn.execute("ALTER TABLE served_list_items DISABLE TRIGGER served_list_items_exposure")
            for start in range(0, log_lists, 2000):
                batch = _lists(min(2000, log_lists - start), inv, ents, rng)
                write_lists(conn, batch)
            conn.execute("UPDATE served_lists SET created_at = now() - random() * interval '30 days'")
            conn.execute("TRUNCATE exposure_daily")
            conn.execute("INSERT INTO exposure_daily SELECT (l.created_at AT TIME ZONE 'UTC')::date, i.enterprise_id, "
                         "count(*) FROM served_list_items i JOIN served_lists l ON l.id = i.list_id GROUP BY 1, 2")
            conn.execute("VACUUM ANALYZE")
            times: dict[bool, list[float]] = {True: [], False: []}
            for i in range(2 * rounds):  # interleaved, so that both see the same table sizes and cache
                trigger = i % 2 == 0
                conn.execute(f"ALTER TABLE served_list_items {'ENABLE' if trigger else 'DISABLE'} TRIGGER "
                             "served_list_items_exposure")
                batch = _lists(20, inv, ents, rng)
                t0 = time.perf_counter()
                write_lists(conn, batch)
                times[trigger].append((time.perf_counter() - t0) / 20)
            for trigger in (True, False):
                rows.append((f"impression write per list (batches of 20 lists × 20 items), trigger "
                             f"{'on' if trigger else 'off'}", _ms(times[trigger])))
            conn.execute("ALTER TABLE served_list_items ENABLE TRIGGER served_list_items_exposure")
            now = datetime.now(UTC)
            t = []
            for _ in range(5):
                t0 = time.perf_counter()
                conn.execute("SELECT i.enterprise_id, count(*) FROM served_list_items i JOIN served_lists l "
                             "ON l.id = i.list_id WHERE l.created_at >= now() - interval '30 days' "
                             "AND i.enterprise_id IS NOT NULL GROUP BY 1").fetchall()
                t.append(time.perf_counter() - t0)
            rows.append((f"the alternative: count the log over 30 days ({log_lists:,} lists, {log_lists * 20:,} items)",
                         _ms(t)))
            n_rows = conn.execute("SELECT count(*) FROM exposure_daily").fetchone()[0]
            # a larger market's day: shown_today enterprises shown today (synthetic ids beyond the market's)
            conn.execute("INSERT INTO exposure_daily SELECT current_date, 10000000 + g, 1 "
                         "FROM generate_series(1, %s) g", (shown_today,))
        big = np.concatenate([np.asarray(ents, dtype=np.int64), 10_000_000 + np.arange(1, shown_today + 1)])
        rng_np = np.random.default_rng(0)
        rng_np.shuffle(big)
        snap: Any = SimpleNamespace(ent_id=big, n_enterprises=len(big),
                                    enterprise_row={int(e): i for i, e in enumerate(big)})
        counts = ShownCounts()
        with psycopg_pool.ConnectionPool(url, min_size=1, max_size=1, kwargs={"autocommit": True}) as pool:
            sync = ExposureSync(pool, counts, lambda: snap, interval=60)
            t0 = time.perf_counter()
            sync.refresh(now)
            first = time.perf_counter() - t0
            t = []
            for _ in range(10):
                t0 = time.perf_counter()
                n = sync.refresh(now)
                t.append(time.perf_counter() - t0)
        rows.append((f"refresh, first (the 29 closed days + today; {n_rows:,} day rows)", f"{first * 1e3:.1f} ms"))
        rows.append((f"refresh, then every exposure_refresh_seconds (today's rows; {n:,} enterprises, "
                     f"snapshot of {len(big):,})", _ms(t)))
        ids_all, n_all = np.unique(big), np.ones(len(big), dtype=np.int64)
        t = []
        for _ in range(10):
            t0 = time.perf_counter()
            counts.replace(*merged((ids_all, n_all), (ids_all[:1000], n_all[:1000])), snap)
            t.append(time.perf_counter() - t0)
        rows.append((f"of which in Python (merge, place by row; {len(big):,} enterprises)", _ms(t)))
        ids = [int(e) for e in rng.sample(ents, 20)]
        t = []
        for _ in range(2000):
            t0 = time.perf_counter()
            counts.record(ids)
            exposure_rows(snap, counts)
            t.append(time.perf_counter() - t0)
        rows.append(("in the request: record 20 shows + counts by row (unchanged, in memory)",
                     f"{statistics.median(t) * 1e6:.1f} µs (p99 {np.percentile(t, 99) * 1e6:.1f})"))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return rows


def main() -> None:
    """Run and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--enterprises", type=int, default=2000)
    p.add_argument("--log-lists", type=int, default=100_000, help="served lists in the impression log")
    p.add_argument("--shown-today", type=int, default=100_000, help="more enterprises shown today (a larger market)")
    p.add_argument("--rounds", type=int, default=50)
    a = p.parse_args()
    for what, figure in run(a.enterprises, a.log_lists, a.shown_today, a.rounds):
        print(f"| {what} | {figure} |")


if __name__ == "__main__":
    main()
