"""The long reliability run: fuzzing, load with retries, and PostgreSQL restarts, against a live service.

    python -m bench.reliability --minutes 3

Self-contained: it starts its own PostgreSQL (a temporary cluster on a free port), migrates it, loads
a generated market, creates one key per role, and starts the service with uvicorn on loopback (the
small hashing encoder by default; ``--real-encoder`` for the configured one). Then, for the time
given:

1. **fuzz** (a quarter of it): requests generated from the service's own ``/openapi.json``
   (:mod:`bench.openapi_fuzz`) over every operation except ``POST /v1/models/retrain`` (each would
   train a model), with every role's key; no 5xx, every answer as declared;
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
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import openapi_fuzz as fz
from bench.live_server import ROOT, Figures, Load, Party, serve, stored_counts
from capconnect.db.embedded import EmbeddedPostgres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="Total duration.")
    parser.add_argument("--threads", type=int, default=8, help="Concurrent load clients.")
    parser.add_argument("--fault-every", type=float, default=40.0, help="Seconds between PostgreSQL restarts.")
    parser.add_argument("--down", type=float, default=4.0, help="Seconds PostgreSQL stays down each time.")
    parser.add_argument("--enterprises", type=int, default=500)
    parser.add_argument("--real-encoder", action="store_true", help="Serve with the configured encoder.")
    args = parser.parse_args()
    sys.exit(0 if run(args) else 1)


def run(args: argparse.Namespace) -> bool:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers_live import load_market

    from capconnect.db import keys as keys_db
    from capconnect.db.database import upgrade
    from capconnect.db.embedded import free_port

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
            fuzz = _fuzz(base, keys, total * 0.25)
            load, faults = _load_with_faults(base, parties, server, total * 0.75, args)
        with psycopg.connect(url, autocommit=True) as conn:
            stored = stored_counts(conn, load.acknowledged)
        return _report(fuzz, load, faults, stored)
    finally:
        server.stop()
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


def _fuzz(base: str, keys: dict[str, str | None], seconds: float) -> fz.Outcome:
    outcome = fz.Outcome()
    with httpx.Client(base_url=base, timeout=30) as client:
        spec = client.get("/openapi.json").json()
        ids = [r["id"] for r in client.get("/v1/enterprises", params={"limit": 20},
                                           headers={"X-API-Key": keys["admin"]}).json()["items"]]
        schemas = fz.Schemas(spec, ids=ids)
        ops = [op for op in fz.operations(spec) if not fz.skip_operation(op) and op.path != "/v1/models/retrain"]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for op in ops:
                if time.monotonic() >= deadline:
                    break
                _fuzz_operation(client, op, schemas, keys, outcome)
    return outcome


def _fuzz_operation(client: httpx.Client, op: fz.Operation, schemas: fz.Schemas, keys: dict[str, str | None],
                    outcome: fz.Outcome) -> None:
    """Up to 20 generated requests to one operation (a new random sample each call)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(request=fz.request_strategy(op, schemas), key=st.sampled_from(sorted(keys)))
    def one(request: dict[str, Any], key: str) -> None:
        secret = keys[key]
        headers = {**request.pop("headers", {}), **({"X-API-Key": secret} if secret else {})}
        try:
            response = client.request(headers=headers, **request)
        except httpx.InvalidURL:  # refused by the client itself (too long): nothing was sent
            return
        except httpx.HTTPError as exc:
            outcome.cases += 1
            outcome.failures.append(f"{op.method} {op.path}: {type(exc).__name__}: {exc}")
            return
        outcome.add(response.status_code)
        problem = fz.check(op, response, schemas)
        if problem:
            outcome.failures.append(problem)

    one()


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


def _report(fuzz: fz.Outcome, f: Figures, faults: dict[str, int], stored: Counter[int]) -> bool:
    once = stored.get(1, 0)
    more = sum(n for times, n in stored.items() if times > 1)
    lost = stored.get(0, 0)
    fuzz_5xx = sum(n for s, n in fuzz.by_status.items() if s >= 500)
    print("\n== reliability run ==")
    print(f"fuzz: {fuzz.cases:,} cases, statuses {dict(sorted(fuzz.by_status.items()))}, "
          f"{len(fuzz.failures)} failures")
    for line in fuzz.failures[:20]:
        print("  ", line)
    print(f"load: {f.requests:,} requests, statuses {dict(sorted(f.statuses.items()))}, "
          f"5xx other than 503: {f.server_errors}, transport errors: {f.transport_errors}, "
          f"deliberate retries: {f.retries:,}")
    print(f"events: {len(f.acknowledged):,} acknowledged, {once:,} stored exactly once, "
          f"{lost} lost, {more} duplicated")
    print(f"faults: {faults['injected']} PostgreSQL restarts injected, {faults['recovered']} recovered by themselves")
    return (not fuzz.failures and fuzz_5xx == 0 and f.server_errors == 0
            and lost == 0 and more == 0 and faults["injected"] == faults["recovered"])


if __name__ == "__main__":
    main()
