"""A live service on loopback for reliability runs: uvicorn in a subprocess, and the clients' load.

:func:`serve` starts ``uvicorn`` (the real lifespan, pool and middleware) on a free port over a given
database, with the small hashing test encoder (``tests/helpers_encoder.py``: no model to load, so a
server starts in a second or two) or the configured one, and stops it afterwards. :class:`Load` runs
concurrent clients that read deal lists and post funnel events with idempotency keys, retrying some
on purpose (again at once, and twice concurrently), and records every acknowledged event.
Used by ``tests/test_load_durability.py``, ``tests/test_faults.py`` and ``python -m bench.reliability``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
_LAUNCH = """
import sys, uvicorn
sys.path.insert(0, {tests!r})
from api.logs import configure_logging
from api.app import create_app
configure_logging()
encoder = None
if {hashing!r}:
    from helpers_encoder import HashingEncoder
    encoder = HashingEncoder()
uvicorn.run(create_app(encoder=encoder), host="127.0.0.1", port={port}, log_config=None, timeout_graceful_shutdown=5)
"""


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(database_url: str, data_dir: Path, *, hashing_encoder: bool = True, log: Path | None = None,
          **env: str) -> Iterator[str]:
    """Run the service in a subprocess until the block ends; yields its base URL."""
    port = free_port()
    environ = {**os.environ, "CAPCONNECT_DATABASE_URL": database_url, "CAPCONNECT_DATA_DIR": str(data_dir),
               "CAPCONNECT_MODELS_DIR": str(data_dir / "models"), "CAPCONNECT_API_RATE_PER_SECOND": "100000",
               "CAPCONNECT_API_RATE_BURST": "100000", "CAPCONNECT_MARKET_REFRESH_SECONDS": "0",
               # the load and the fuzzer send invalid keys on purpose from one address: no sign-in throttle
               "CAPCONNECT_AUTH_MAX_FAILURES": "100000",
               "CAPCONNECT_DB_TIMEOUT_SECONDS": "2", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env}
    code = _LAUNCH.format(tests=str(ROOT / "tests"), hashing=hashing_encoder, port=port)
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=environ, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, 120)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def _wait_ready(base: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready within {seconds:.0f} s")


@dataclass
class Party:
    """An investor key and its investor id."""

    key: str
    investor_id: int


@dataclass
class Figures:
    """What a load run saw."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    acknowledged: set[tuple[int, str]] = field(default_factory=set)  # (investor id, event id)
    served_lists: set[str] = field(default_factory=set)  # list ids of deal lists answered 200
    retries: int = 0
    first_503: float | None = None
    last_503: float | None = None
    first_ok_after_503: float | None = None

    @property
    def server_errors(self) -> int:
        """5xx answers other than 503 (a 503 is the documented answer while the database is down)."""
        return sum(n for s, n in self.statuses.items() if s >= 500 and s != 503)


class Load:
    """Concurrent clients on threads: read a deal list, post an event on one of its items, retry some.

    Args:
        base: the service's URL.
        parties: investor keys to act with (each thread picks among them).
        threads: concurrent clients.
        seed: for the choices (which item, whether to retry).
    """

    def __init__(self, base: str, parties: Sequence[Party], threads: int = 8, seed: int = 0) -> None:
        self.base, self.parties, self.threads = base, list(parties), threads
        self.figures = Figures()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seed = seed

    def run(self, seconds: float) -> Figures:
        """Run for ``seconds`` and return the figures."""
        workers = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.threads)]
        for w in workers:
            w.start()
        self._stop.wait(seconds)
        self._stop.set()
        for w in workers:
            w.join(30)
        return self.figures

    def _record(self, status: int | None) -> None:
        with self._lock:
            f = self.figures
            f.requests += 1
            now = time.monotonic()
            if status is None:
                f.transport_errors += 1
                return
            f.statuses[status] += 1
            if status == 503:
                f.first_503 = f.first_503 or now
                f.last_503, f.first_ok_after_503 = now, None
            elif status < 400 and f.last_503 is not None and f.first_ok_after_503 is None:
                f.first_ok_after_503 = now

    def _send(self, client: httpx.Client, method: str, path: str, key: str, **kw: object) -> httpx.Response | None:
        try:
            r = client.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError:
            self._record(None)
            return None
        self._record(r.status_code)
        return r

    def _post_event(self, client: httpx.Client, party: Party, body: dict[str, object]) -> None:
        r = self._send(client, "POST", "/v1/events", party.key, json=body)
        if r is not None and r.status_code in (200, 201):
            with self._lock:
                self.figures.acknowledged.add((party.investor_id, str(body["event_id"])))

    def _post_twin(self, party: Party, body: dict[str, object]) -> None:
        with httpx.Client(base_url=self.base, timeout=15) as client:
            self._post_event(client, party, body)

    def _client(self, i: int) -> None:
        rng = random.Random(self._seed * 1000 + i)
        with httpx.Client(base_url=self.base, timeout=15) as client:
            while not self._stop.is_set():
                party = rng.choice(self.parties)
                r = self._send(client, "GET", f"/v1/investors/{party.investor_id}/deals", party.key, params={"k": 10})
                if r is None or r.status_code != 200 or not r.json()["items"]:
                    time.sleep(0.05)
                    continue
                deal = r.json()
                with self._lock:
                    self.figures.served_lists.add(str(deal["list_id"]))
                item = rng.choice(deal["items"])
                body = {"event_id": f"load-{uuid.uuid4().hex}", "event_type": rng.choice(["viewed", "saved"]),
                        "investor_id": party.investor_id, "enterprise_id": item["enterprise"]["id"],
                        "list_id": deal["list_id"]}
                roll = rng.random()
                if roll < 0.2:  # the same event twice at once (a client retrying before the first answer)
                    twin = threading.Thread(target=self._post_twin, args=(party, body))
                    twin.start()
                    self._post_event(client, party, body)
                    twin.join()
                    self._count_retry()
                else:
                    self._post_event(client, party, body)
                    if roll < 0.5:  # retried after the answer (the client lost it)
                        self._post_event(client, party, body)
                        self._count_retry()

    def _count_retry(self) -> None:
        with self._lock:
            self.figures.retries += 1


def stored_counts(conn: object, acknowledged: set[tuple[int, str]]) -> Counter[int]:
    """How often each acknowledged event is stored: ``{times stored: events}`` (all should be ``{1: n}``)."""
    from store.events import event_key

    keys = [event_key(f"i{inv}", eid) for inv, eid in acknowledged]
    rows = conn.execute(  # type: ignore[attr-defined]
        "SELECT k, count(f.id) FROM unnest(%s::text[]) AS k LEFT JOIN funnel_events f ON f.event_key = k GROUP BY k",
        (keys,)).fetchall()
    return Counter(int(n) for _, n in rows)


def list_counts(conn: object, list_ids: set[str]) -> dict[str, int]:
    """Of the lists the clients were served: how many the impression log holds, how many were set aside
    as dead letters (refused by the database, counted apart), and how many are lost (neither)."""
    ids = sorted(list_ids)
    stored = conn.execute("SELECT count(*) FROM served_lists WHERE id = ANY(%s::uuid[])",  # type: ignore[attr-defined]
                          (ids,)).fetchone()[0]
    dead = conn.execute("SELECT count(DISTINCT list_id) FROM impression_dead_letters "  # type: ignore[attr-defined]
                        "WHERE list_id = ANY(%s::uuid[])", (ids,)).fetchone()[0]
    return {"served": len(ids), "stored": int(stored), "dead_letters": int(dead),
            "lost": len(ids) - int(stored) - int(dead)}
