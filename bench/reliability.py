"""The long reliability run: fuzzing, load with retries, and PostgreSQL restarts, against a live service.

    python -m bench.reliability --minutes 3

Self-contained: it starts its own PostgreSQL (a temporary cluster on a free port), migrates it, loads
a generated market, creates one key per role, and starts the service with uvicorn on loopback (the
small hashing encoder by default; ``--real-encoder`` for the configured one). Then, for the time
given:

1. **fuzz** (``--fuzz-share`` of it, by ``--fuzz-clients`` processes at once): schemathesis cases drawn
   from the service's own ``/openapi.json`` (:mod:`bench.schema_fuzz`) over every operation except
   ``POST /v1/models/retrain`` (each would train a model), with every role's key; no 5xx, every answer
   as declared;
2. **load with faults** (the rest): concurrent clients read deal lists and post events with
   idempotency keys, retried on purpose; every ``--fault-every`` seconds PostgreSQL is stopped for
   ``--down`` seconds and started again. A fault counts as recovered when a request succeeds
   within 30 s of the restart.

Finally every acknowledged event is looked up by its key: each must be stored exactly once. The
figures are printed (README, section Reliability, holds the last run's). Exit status 1 on any
failure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import schema_fuzz as sf
from bench.live_server import ROOT, Figures, Load, Party, list_counts, serve, stored_counts
from store.embedded import EmbeddedPostgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="Total duration.")
    parser.add_argument("--threads", type=int, default=8, help="Concurrent load clients.")
    parser.add_argument("--fault-every", type=float, default=25.0, help="Seconds between PostgreSQL restarts.")
    parser.add_argument("--down", type=float, default=4.0, help="Seconds PostgreSQL stays down each time.")
    parser.add_argument("--fuzz-share", type=float, default=0.6, help="Share of the time spent fuzzing.")
    parser.add_argument("--keep-log", type=Path, default=None, help="Copy the service's log here afterwards.")
    parser.add_argument("--fuzz-clients", type=int, default=3, help="Fuzzing processes at once.")
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--real-encoder", action="store_true", help="Serve with the configured encoder.")
    args = parser.parse_args()
    sys.exit(0 if run(args) else 1)


def run(args: argparse.Namespace) -> bool:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers_live import load_market

    from store import keys as keys_db
    from store.database import upgrade
    from store.embedded import free_port

    total = args.minutes * 60
    root = Path(tempfile.mkdtemp(prefix="capconnect-reliability-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "pg", port=free_port())
    t0 = time.monotonic()
    try:
        url = server.start()
        upgrade(url)
        load_market(url, enterprises=args.enterprises, investors=max(40, args.enterprises // 7), seed=11)
        with psycopg.connect(url, autocommit=True) as conn:
            keys = _role_keys(conn, keys_db)
            parties = [Party(keys_db.create_key(conn, role="investor", investor_id=i).secret, i) for i in
                       _active_investors(conn, 12)]
        print(f"set up in {time.monotonic() - t0:.0f} s; running {args.minutes:g} min", flush=True)
        with serve(url, root / "service", hashing_encoder=not args.real_encoder, log=root / "server.log") as base:
            fuzz = _fuzz(base, keys, total * args.fuzz_share, args.fuzz_clients)
            load, faults = _load_with_faults(base, parties, server, total * (1 - args.fuzz_share), args)
        with psycopg.connect(url, autocommit=True) as conn:
            stored = stored_counts(conn, load.acknowledged)
            lists = list_counts(conn, load.served_lists)
        return _report(fuzz, load, faults, stored, lists)
    finally:
        server.stop()
        if args.keep_log and (root / "server.log").exists():  # the service's own log: tracebacks of any 5xx
            shutil.copy(root / "server.log", args.keep_log)
        shutil.rmtree(root, ignore_errors=True)


def _role_keys(conn: psycopg.Connection, keys_db: Any) -> dict[str, str | None]:
    inv = _active_investors(conn, 1)[0]
    ent = conn.execute("SELECT min(id) FROM enterprises").fetchone()[0]  # type: ignore[index]
    make = keys_db.create_key
    return {"admin": make(conn, role="admin").secret, "operator": make(conn, role="operator").secret,
            "ds": make(conn, role="data_scientist").secret, "inv": make(conn, role="investor", investor_id=inv).secret,
            "ent": make(conn, role="enterprise", enterprise_id=ent).secret, "none": None}


def _active_investors(conn: psycopg.Connection, n: int) -> list[int]:
    return [r[0] for r in conn.execute(
        "SELECT i.id FROM investors i JOIN mandates d ON d.investor_id = i.id AND d.valid_to IS NULL "
        "WHERE i.investor_type IN ('vc', 'pe') AND i.status <> 'inactive' ORDER BY i.id LIMIT %s", (n,))]


def _fuzz(base: str, keys: dict[str, str | None], seconds: float, clients: int) -> sf.Outcome:
    """Schemathesis cases over every operation (but retraining), by ``clients`` processes at once
    (Hypothesis is not made for threads, and one process's generation would be the bottleneck)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        spec = client.get("/openapi.json").json()
        ids = [r["id"] for r in client.get("/v1/enterprises", params={"limit": 20},
                                           headers={"X-API-Key": keys["admin"]}).json()["items"]]
    deadline = time.time() + seconds
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(clients, mp_context=context) as pool:
        outcomes = list(pool.map(_fuzz_client, [(base, spec, keys, ids, deadline, n) for n in range(clients)]))
    total = sf.Outcome()
    for o in outcomes:
        total.cases += o.cases
        total.by_status.update(o.by_status)
        total.failures.extend(o.failures)
    return total


def _fuzz_client(job: tuple[str, dict[str, Any], dict[str, str | None], list[int], float, int]) -> sf.Outcome:
    """One fuzzing process: the operations in turn (each process starts at another), 50 cases each."""
    base, spec, keys, ids, deadline, n = job
    ops = sf.operations(sf.load(spec), skip=[("POST", "/v1/models/retrain")])
    outcome = sf.Outcome()
    with httpx.Client(base_url=base, timeout=30) as client:
        while time.time() < deadline:
            for op in ops[n:] + ops[:n]:
                if time.time() >= deadline:
                    break
                sf.fuzz_operation(client, op, keys, ids, outcome, examples=50)
    return outcome


def _load_with_faults(base: str, parties: list[Party], server: EmbeddedPostgres, seconds: float,
                      args: argparse.Namespace) -> tuple[Figures, dict[str, int]]:
    load = Load(base, parties, threads=args.threads, seed=3)
    runner = threading.Thread(target=load.run, args=(seconds,))
    runner.start()
    end = time.monotonic() + seconds
    faults = {"injected": 0, "recovered": 0}
    next_fault = time.monotonic() + min(args.fault_every, seconds / 3)
    while time.monotonic() < end - args.down - 10:
        if time.monotonic() >= next_fault:
            server.stop()
            faults["injected"] += 1
            time.sleep(args.down)
            server.start()
            up = time.monotonic()
            if _serves_again(base, parties[0], up + 30):
                faults["recovered"] += 1
            print(f"fault {faults['injected']}: PostgreSQL down {args.down:g} s; service answering again after "
                  f"{time.monotonic() - up:.1f} s", flush=True)
            next_fault = time.monotonic() + args.fault_every
        time.sleep(0.2)
    runner.join()
    return load.figures, faults


def _serves_again(base: str, party: Party, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{base}/v1/investors/{party.investor_id}/deals", params={"k": 5},
                          headers={"X-API-Key": party.key}, timeout=10)
            if r.status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def _report(fuzz: sf.Outcome, f: Figures, faults: dict[str, int], stored: Counter[int], lists: dict[str, int]
            ) -> bool:
    once = stored.get(1, 0)
    more = sum(n for times, n in stored.items() if times > 1)
    lost = stored.get(0, 0)
    print("\n== reliability run ==")
    print(f"fuzz (schemathesis): {fuzz.cases:,} cases, {fuzz.server_errors} 5xx, "
          f"statuses {dict(sorted(fuzz.by_status.items()))}, {len(fuzz.failures)} failures")
    for line in fuzz.failures[:20]:
        print("  ", line)
    print(f"load: {f.requests:,} requests, statuses {dict(sorted(f.statuses.items()))}, "
          f"5xx other than 503: {f.server_errors}, transport errors: {f.transport_errors}, "
          f"deliberate retries: {f.retries:,}")
    print(f"events: {len(f.acknowledged):,} acknowledged, {once:,} stored exactly once, "
          f"{lost} lost, {more} duplicated")
    print(f"impression log: {lists['served']:,} deal lists served, {lists['stored']:,} stored, "
          f"{lists['dead_letters']} dead letters, {lists['lost']} lost")
    print(f"faults: {faults['injected']} PostgreSQL restarts injected, {faults['recovered']} recovered by themselves")
    return (not fuzz.failures and fuzz.server_errors == 0 and f.server_errors == 0 and lists["lost"] == 0
            and lost == 0 and more == 0 and faults["injected"] == faults["recovered"])


if __name__ == "__main__":
    main()
