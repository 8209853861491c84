"""Event ingestion rate through HTTP: the single route against the batch route, with a durability check.

:func:`ingest_rate` posts ``n_events`` funnel events to a running service, ``batch_size`` at a time
(1: ``POST /v1/events``, one request per event; more: ``POST /v1/events/batch``) from ``concurrency``
client threads, and afterwards counts in the database how many of the acknowledged events are stored
(an acknowledged event must be: the service answers after the commit).

``python -m bench.scale.events`` runs it once on a live uvicorn (:func:`bench.live_server.serve`) over a
small generated market in an embedded PostgreSQL (``fsync = on``), for each batch size given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import psycopg

from store.events import event_key

#: An investor key, its investor id, and enterprises to report events on.
PartySpec = tuple[str, int, Sequence[int]]
EVENT_TYPES = ("viewed", "saved", "dismissed", "contact_requested")


def ingest_rate(base_url: str, parties: Sequence[PartySpec], n_events: int, batch_size: int = 1,
                concurrency: int = 4, *, database: psycopg.Connection | str | None = None,
                seed: int = 0) -> dict[str, Any]:
    """Post ``n_events`` new events and time it; count the acknowledged ones stored.

    Args:
        base_url: the service, e.g. ``http://127.0.0.1:8000``.
        parties: ``(api_key, investor_id, enterprise_ids)``: each event is one party's, on one of its
            enterprises (no ``list_id``); a batch holds one party's events only (an investor key reports
            its own).
        n_events: events in all (spread round-robin over the parties).
        batch_size: events per request; 1 uses the single route.
        concurrency: client threads sending at once.
        database: a connection or URL of the service's database for the durability check (``None``: skipped,
            ``stored`` is ``None``).
        seed: for the event types and enterprises drawn.

    Returns:
        ``events``, ``seconds``, ``events_per_s`` (acknowledged events per second of wall time),
        ``acknowledged``, ``stored`` (acknowledged events found in the database), ``requests``,
        ``statuses`` (status → requests), ``transport_errors``, ``batch_size``, ``concurrency``.
    """
    if not parties or n_events < 1 or batch_size < 1 or concurrency < 1:
        raise ValueError("need at least one party, n_events >= 1, batch_size >= 1 and concurrency >= 1")
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:10]
    per_party: list[list[dict[str, Any]]] = [[] for _ in parties]
    for n in range(n_events):
        p = n % len(parties)
        _, inv, ents = parties[p]
        per_party[p].append({"event_id": f"rate-{run}-{n}", "event_type": rng.choice(EVENT_TYPES),
                             "investor_id": inv, "enterprise_id": rng.choice(list(ents))})
    chunks = [[(p, evs[i:i + batch_size]) for i in range(0, len(evs), batch_size)] for p, evs in enumerate(per_party)]
    requests = [c for group in itertools.zip_longest(*chunks) for c in group if c is not None]  # parties interleaved

    lock = threading.Lock()
    nxt = itertools.count()
    statuses: Counter[int] = Counter()
    acknowledged: list[str] = []
    errors = 0

    def client() -> None:
        nonlocal errors
        with httpx.Client(base_url=base_url, timeout=120) as http:
            while (i := next(nxt)) < len(requests):
                p, evs = requests[i]
                key, inv, _ = parties[p]
                path, body = ("/v1/events", evs[0]) if batch_size == 1 else ("/v1/events/batch", {"events": evs})
                try:
                    r = http.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
                except httpx.HTTPError:
                    with lock:
                        errors += 1
                    continue
                with lock:
                    statuses[r.status_code] += 1
                    if r.status_code in (200, 201):
                        acknowledged.extend(event_key(f"i{inv}", e["event_id"]) for e in evs)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return {"events": n_events, "seconds": round(seconds, 3), "events_per_s": round(len(acknowledged) / seconds, 1),
            "acknowledged": len(acknowledged), "stored": _stored(database, acknowledged), "requests": len(requests),
            "statuses": dict(statuses), "transport_errors": errors, "batch_size": batch_size,
            "concurrency": concurrency}


def _stored(database: psycopg.Connection | str | None, keys: list[str]) -> int | None:
    """How many of ``keys`` are stored (``event_key`` is unique: each at most once)."""
    if database is None:
        return None
    if isinstance(database, str):
        with psycopg.connect(database, autocommit=True) as conn:
            return _stored(conn, keys)
    row = database.execute("SELECT count(*) FROM funnel_events WHERE event_key = ANY(%s::text[])", (keys,)).fetchone()
    return int(row[0]) if row else 0


def parties_of(conn: psycopg.Connection, n: int = 8, enterprises: int = 50) -> list[PartySpec]:
    """Keys for ``n`` active investors, each with ``enterprises`` active enterprise ids to report on."""
    from store import keys as keys_db

    ents = [int(r[0]) for r in conn.execute(
        "SELECT id FROM enterprises WHERE status = 'active' ORDER BY id LIMIT %s", (enterprises,))]
    invs = [int(r[0]) for r in conn.execute(
        "SELECT id FROM investors WHERE status <> 'inactive' ORDER BY id LIMIT %s", (n,))]
    return [(keys_db.create_key(conn, role="investor", investor_id=i, label="bench events").secret, i, ents)
            for i in invs]


def main(argv: Sequence[str] | None = None) -> None:
    """Measure each batch size on a live server over an embedded PostgreSQL; print one JSON line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=4000, help="events per batch size (single route: a quarter)")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 100, 1000], help="batch sizes (1: single route)")
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args(argv)
    root_dir = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root_dir / "tests"))
    from helpers_live import load_market

    from bench.live_server import serve
    from store.database import upgrade
    from store.embedded import EmbeddedPostgres, free_port

    root = Path(tempfile.mkdtemp(prefix="capconnect-events-"))
    root.chmod(0o755)
    server = EmbeddedPostgres(root / "pg", port=free_port())
    try:
        url = server.start()
        upgrade(url)
        load_market(url)
        with psycopg.connect(url, autocommit=True) as conn:
            parties = parties_of(conn)
        with serve(url, root / "service", hashing_encoder=True, log=root / "server.log") as base:
            for size in args.batch:
                n = max(args.events // 4, 1) if size == 1 else args.events
                print(json.dumps(ingest_rate(base, parties, n, size, args.concurrency, database=url)), flush=True)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
