"""Latency of ``GET /v1/investors/{id}/deals`` through HTTP, beside the in-process matcher call.

Against the database of ``capconnect serve --demo`` (same environment variables), this benchmark

1. creates one investor key per benchmarked investor (real keys: hashing, lookup, rate limit all run);
2. starts ``uvicorn --factory api.app:create_app`` on loopback in a subprocess and waits for ``/readyz``;
3. issues the requests from a *separate* client process (httpx, keep-alive), sequentially and then with
   ``--concurrency`` threads, and reports p50/p90/p99 and lists per second;
4. stops the server and measures the baseline in this process: the same matcher (same snapshot and
   model, built by the app's own lifespan) called directly for the same investors, no HTTP, no logging;
5. deletes the lists it served and the keys it created, so the impression log stays clean for training.

    python -m bench.api_latency                       # 400 requests, 20 investors, k = 20
    python -m bench.api_latency --requests 1000 --concurrency 4 --k 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from matching.config import Settings
from store import keys as keys_db
from store.database import open_database

ROOT = Path(__file__).resolve().parent.parent


def _stats(ms: list[float], seconds: float) -> str:
    a = np.asarray(ms)
    return (f"p50 {np.percentile(a, 50):6.1f} ms  p90 {np.percentile(a, 90):6.1f} ms  "
            f"p99 {np.percentile(a, 99):6.1f} ms  {len(a) / seconds:6.1f} lists/s")


def _client(base: str, keys: list[str], ids: list[int], n: int, k: int, concurrency: int) -> tuple[list[float], float]:
    """Issue ``n`` deal requests (round-robin over the investors); latencies in ms and wall seconds."""
    def one(client: httpx.Client, i: int) -> float:
        j = i % len(ids)
        t = time.perf_counter()
        r = client.get(f"{base}/v1/investors/{ids[j]}/deals", params={"k": k},
                       headers={"Authorization": f"Bearer {keys[j]}"})
        elapsed = (time.perf_counter() - t) * 1000
        if r.status_code != 200 or len(r.json()["items"]) == 0:
            raise RuntimeError(f"request {i}: {r.status_code} {r.text[:300]}")
        return elapsed

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=60, limits=limits) as client:
        for i in range(min(20, n)):  # warm-up: connections, caches
            one(client, i)
        t0 = time.perf_counter()
        if concurrency == 1:
            ms = [one(client, i) for i in range(n)]
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                ms = list(pool.map(lambda i: one(client, i), range(n)))
        return ms, time.perf_counter() - t0


def _wait_ready(base: str, proc: subprocess.Popen, seconds: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready within {seconds:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--investors", type=int, default=20)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--port", type=int, default=8799)
    args = ap.parse_args()
    settings = Settings()
    with open_database(settings) as db:
        with db.connect(autocommit=True) as conn:
            ids = [r[0] for r in conn.execute(
                "SELECT i.id FROM investors i JOIN mandates m ON m.investor_id = i.id AND m.valid_to IS NULL "
                "WHERE i.investor_type IN ('vc', 'pe', 'state_fund') AND i.status <> 'inactive' "
                "AND cardinality(m.sectors) > 0 ORDER BY i.id LIMIT %s", (args.investors,))]
            made = [keys_db.create_key(conn, role="investor", investor_id=i, label="bench.api_latency") for i in ids]
            n_ent = conn.execute("SELECT count(*) FROM enterprises").fetchone()[0]
        keys, key_ids = [m.secret for m in made], [m.key.id for m in made]
        try:
            _run(settings, db.url, ids, keys, n_ent, args)
        finally:
            with db.connect(autocommit=True) as conn:
                conn.execute("DELETE FROM served_lists WHERE api_key_id = ANY(%s)", (key_ids,))
                conn.execute("DELETE FROM api_keys WHERE id = ANY(%s)", (key_ids,))


def _run(settings: Settings, url: str, ids: list[int], keys: list[str], n_ent: int, args: argparse.Namespace) -> None:
    base = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "CAPCONNECT_DATABASE_URL": url, "CAPCONNECT_API_RATE_PER_SECOND": "100000",
           "CAPCONNECT_API_RATE_BURST": "100000", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
                               "127.0.0.1", "--port", str(args.port), "--log-level", "warning", "--no-access-log"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx = multiprocessing.get_context("spawn")
    try:
        startup = _wait_ready(base, server, 900)
        ready = httpx.get(f"{base}/readyz").json()
        print(f"deals endpoint on {n_ent:,} enterprises, model {ready['model']['version']}, k = {args.k}, "
              f"{len(ids)} investors, {args.requests} requests; server ready in {startup:.1f} s")
        with ctx.Pool(1) as pool:
            seq_ms, seq_s = pool.apply(_client, (base, keys, ids, args.requests, args.k, 1))
            con_ms, con_s = pool.apply(_client, (base, keys, ids, args.requests, args.k, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)
    base_ms, base_s = _baseline(settings, url, ids, args)
    print(f"  HTTP, 1 client            {_stats(seq_ms, seq_s)}")
    print(f"  HTTP, {args.concurrency} concurrent clients {_stats(con_ms, con_s)}")
    print(f"  in-process Matcher call   {_stats(base_ms, base_s)}  (baseline: no HTTP, auth or logging)")


def _baseline(settings: Settings, url: str, ids: list[int], args: argparse.Namespace) -> tuple[list[float], float]:
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings.model_copy(update={"database_url": url}))) as client:
        matcher = client.app.state.capconnect.matcher  # type: ignore[attr-defined]
        for i in range(min(20, args.requests)):
            matcher.recommend_enterprises(ids[i % len(ids)], args.k)
        ms = []
        t0 = time.perf_counter()
        for i in range(args.requests):
            t = time.perf_counter()
            matcher.recommend_enterprises(ids[i % len(ids)], args.k)
            ms.append((time.perf_counter() - t) * 1000)
        return ms, time.perf_counter() - t0


if __name__ == "__main__":
    main()
