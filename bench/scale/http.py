"""The real HTTP stack under load: uvicorn with 1 or 2 workers on loopback, clients in another process.

:func:`uvicorn_server` starts ``uvicorn --factory api.app:create_app --workers N`` over a bench
database and waits until every worker answers ``/readyz`` (each reports its ``worker_pid``).
:func:`run_load` sends a bounded number of requests (and stops at a time limit) from a separate
process with ``concurrency`` keep-alive connections, and returns the latencies. :func:`memory`
reads a worker's resident and peak memory from ``/proc``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """A running service."""

    base: str
    proc: subprocess.Popen
    workers: int
    startup_s: float
    pids: list[int] = field(default_factory=list)
    ready_s: list[float] = field(default_factory=list)  # per worker (pids' order): seconds until its first /readyz


@contextmanager
def uvicorn_server(database_url: str, env: dict[str, str], workers: int, *, timeout_s: float = 1800,
                   log: Path | None = None) -> Iterator[Server]:
    """Serve the bench database until the block ends (every worker ready before yielding)."""
    port = free_port()
    environ = {**os.environ, "CAPCONNECT_DATABASE_URL": database_url, "CAPCONNECT_API_RATE_PER_SECOND": "1000000",
               "CAPCONNECT_API_RATE_BURST": "1000000", "CAPCONNECT_MARKET_REFRESH_SECONDS": "0",
               "CAPCONNECT_MODEL_POLL_SECONDS": "3600", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **env}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
           # a 1M worker maps its market in ~30 s, part of it unpickling with the GIL held: uvicorn's default
           # 5 s health check would kill and respawn it forever
           "--timeout-worker-healthcheck", "300"]
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT if log else out,
                            start_new_session=True)  # its own process group: the workers are stopped with it
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    try:
        ready = _wait_workers(base, proc, workers, timeout_s, t0)
        pids = sorted(ready)
        yield Server(base, proc, workers, time.perf_counter() - t0, pids, [round(ready[p], 1) for p in pids])
    finally:
        _stop_group(proc)
        if log:
            out.close()  # type: ignore[union-attr]


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to uvicorn and its workers (a worker still starting ignores its parent's exit), SIGKILL after 60 s."""
    for sig, wait in ((signal.SIGTERM, 60), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the master is gone; make sure no worker outlives it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


def _wait_workers(base: str, proc: subprocess.Popen, workers: int, timeout_s: float, t0: float
                  ) -> dict[int, float]:
    """Each worker's pid and the seconds from ``t0`` until it first answered ``/readyz``."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} (run with --log to see why)")
        try:
            r = httpx.get(f"{base}/readyz", timeout=5)  # a new connection: the kernel spreads them over workers
            if r.status_code == 200:
                seen.setdefault(int(r.json()["worker_pid"]), time.perf_counter() - t0)
                if len(seen) >= workers:
                    return seen
                continue
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"{len(seen)} of {workers} workers ready within {timeout_s:.0f} s")


def memory(pid: int) -> dict[str, float]:
    """Resident (RSS), peak resident (HWM), proportional (PSS: shared pages split between the processes that map
    them) and anonymous (RssAnon: the worker's own memory, Python objects, the encoder; not the mapped market's
    file pages, which are clean page cache shared by every worker) memory, MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0].lower().replace("vm", "")] = int(line.split()[1]) / 1024
        elif line.startswith("RssAnon:"):
            out["anon"] = int(line.split()[1]) / 1024
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["pss"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


@dataclass
class Request:
    """One request of a load run."""

    path: str
    params: dict[str, str | int]
    key: str


@dataclass
class LoadResult:
    """Latencies (ms) of the 2xx answers, statuses, wall seconds."""

    ms: list[float]
    statuses: dict[int, int]
    seconds: float
    concurrency: int

    @property
    def ok(self) -> int:
        return len(self.ms)

    def summary(self) -> dict[str, float | int]:
        """p50, p99 (ms), requests per second, counts."""
        a = np.asarray(self.ms) if self.ms else np.zeros(1)
        return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p90_ms": round(float(np.percentile(a, 90)), 2),
                "p99_ms": round(float(np.percentile(a, 99)), 2), "per_s": round(self.ok / max(self.seconds, 1e-9), 1),
                "requests": self.ok, "errors": sum(n for s, n in self.statuses.items() if s >= 300),
                "concurrency": self.concurrency}


def _client_process(base: str, requests: list[Request], concurrency: int, max_requests: int, max_seconds: float,
                    warmup: int) -> LoadResult:
    """Runs in the load process: ``concurrency`` threads, each with a keep-alive connection."""
    lock = threading.Lock()
    next_i = [0]
    ms: list[float] = []
    statuses: Counter[int] = Counter()
    stop_at = [0.0]

    def take() -> int | None:
        with lock:
            i = next_i[0]
            if i >= max_requests or (stop_at[0] and time.perf_counter() > stop_at[0]):
                return None
            next_i[0] += 1
            return i

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            for j in range(warmup):  # connections open, caches warm: not measured
                r = requests[j % len(requests)]
                client.get(r.path, params=r.params, headers={"Authorization": f"Bearer {r.key}"})
            barrier.wait()
            while (i := take()) is not None:
                r = requests[i % len(requests)]
                t = time.perf_counter()
                resp = client.get(r.path, params=r.params, headers={"Authorization": f"Bearer {r.key}"})
                elapsed = (time.perf_counter() - t) * 1000
                with lock:
                    statuses[resp.status_code] += 1
                    if resp.status_code < 300:
                        ms.append(elapsed)

    barrier = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + max_seconds
    for t in threads:
        t.join()
    return LoadResult(ms, dict(statuses), time.perf_counter() - t0, concurrency)


def run_load(base: str, requests: list[Request], *, concurrency: int, max_requests: int, max_seconds: float,
             warmup: int = 10) -> LoadResult:
    """Load from a separate (spawned) process, bounded by ``max_requests`` and ``max_seconds``."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_client_process, (base, requests, concurrency, max_requests, max_seconds, warmup))
