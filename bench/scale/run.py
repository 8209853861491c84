"""``python -m bench.scale``: the performance table from 10,000 to 1,000,000 enterprises, with baselines.

For each size: a generated market with proportional investors and funnel history in its own
database (:mod:`bench.scale.market`), the approximate index against an exact NumPy scan, the
matcher in-process (the floor under the HTTP figures) with batched against per-candidate features,
then the real service (uvicorn on loopback, the model registered and active) with 1 and with 2
workers, loaded from a separate process: deal lists, investor lists, free-text search (the query
encoded by the real encoder in the request), peak memory per worker, and event ingestion (single
route against the batch route, every acknowledged event checked in the database). Once per run:
retraining on about 1,000,000 funnel events, bulk import (against row-by-row inserts) and the
encoder's throughput (full build against incremental re-embedding).

The figures go to ``bench/results/scale.json`` (the previous file's figures are kept as the
baseline of the next run) and the table to ``bench/results/scale.md`` and README.md (between the
``bench:scale`` markers). Sizes: ``--sizes 10k,100k,1m``; ``--quick`` runs a tiny market with short
loads (the test suite uses it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from api.loader import release_memory
from bench.scale import http, inprocess, report
from bench.scale.market import Prepared, fill_cache, prepare, shape_for
from matching.config import Settings
from matching.ranking.bundle import ModelBundle
from matching.retrieval.embeddings import EmbeddingCache
from matching.retrieval.encoder.encoder import TextEncoder, ensure_default_encoder, load_encoder
from matching.retrieval.index import IndexConfig
from matching.retrieval.indexstore import build_or_load
from matching.retrieval.vectors import embed_market
from matching.serving.context import build_context
from matching.serving.matcher import Matcher, Policy
from matching.snapshot.core import ITYPE, slim_for_serving
from store import keys as keys_db
from store import registry
from store.database import open_database

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
SEARCH_WORDS = (("智能制造", "新能源汽车", "生物医药", "集成电路", "软件和信息服务", "新材料", "节能环保", "现代农业"),
                ("渝北区", "两江新区", "九龙坡区", "沙坪坝区", "江北区", "永川区"),
                ("天使轮", "A轮", "B轮", "Pre-IPO", "股权融资", "知识产权质押贷款"))


def _size(text: str) -> int:
    t = text.strip().lower()
    mult = 1_000_000 if t.endswith("m") else 1000 if t.endswith("k") else 1
    return int(float(t.rstrip("mk")) * mult)


def machine() -> dict[str, Any]:
    """What the figures were taken on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**20, 1),
            "python": platform.python_version(), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": os.getloadavg()}


def _parties(snap: Any, rng: np.random.Generator, live_ents: np.ndarray, n: int) -> tuple[list[int], list[int]]:
    """Investors with a stored mandate that takes equity deals, and enterprises with a live need."""
    kinds = [ITYPE[t] for t in ("vc", "pe", "state_fund") if t in ITYPE]
    rows = np.flatnonzero(np.isin(snap.inv_type, kinds) & snap.inv_active
                          & np.array([m is not None for m in snap.man_record]))
    invs = rng.choice(rows, min(n, len(rows)), replace=False)
    ents = rng.choice(np.unique(live_ents), min(n, len(np.unique(live_ents))), replace=False)
    return [int(snap.inv_id[i]) for i in invs], [int(snap.ent_id[e]) for e in ents]


def _requests(conn: psycopg.Connection, inv_ids: list[int], ent_ids: list[int], n_search: int
              ) -> dict[str, list[http.Request]]:
    """Keys for the parties (created in the bench database) and the requests of each kind."""
    inv_keys = [keys_db.create_key(conn, role="investor", investor_id=i, label="bench.scale").secret for i in inv_ids]
    ent_keys = [keys_db.create_key(conn, role="enterprise", enterprise_id=e, label="bench.scale").secret
                for e in ent_ids]
    words = SEARCH_WORDS
    search = [http.Request("/v1/search", {"q": f"{words[0][i % 8]} {words[1][i % 6]} {words[2][i % 6]} "
                                                f"融资{100 + i}万元", "side": "enterprise", "k": 20},
                           inv_keys[i % len(inv_keys)]) for i in range(n_search)]  # every text new: encoded
    return {"deals": [http.Request(f"/v1/investors/{i}/deals", {"k": 20}, k) for i, k in zip(inv_ids, inv_keys,
                                                                                               strict=True)],
            "investors": [http.Request(f"/v1/enterprises/{e}/investors", {"k": 20}, k)
                          for e, k in zip(ent_ids, ent_keys, strict=True)],
            "search": search}


def _activate(url: str, bundle: Path) -> str:
    """Register the trained version in the bench database (once) and make it active."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    metrics_file = bundle / "metrics.json"
    metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.exists() else {}
    version = str(manifest.get("version", bundle.name))
    with psycopg.connect(url, autocommit=True) as conn:
        if registry.get_version(conn, version) is None:
            registry.register(conn, version, str(bundle.resolve()), manifest, metrics)
        active = registry.active_version(conn)
        if active is None or active.version != version:
            registry.activate(conn, version)
    return version


class Runner:
    """One run of the table (see the module docstring)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.settings = Settings()
        self.encoder: TextEncoder = load_encoder(ensure_default_encoder(self.settings))
        self.say = print if not args.quiet else (lambda *_a, **_k: None)
        self.bench_dir = self.settings.data_dir / "bench"  # markets' vector caches, models, server logs
        self.bench_dir.mkdir(parents=True, exist_ok=True)

    def size(self, base_url: str, n: int, bundle: Path | None) -> dict[str, Any]:
        a, enc = self.args, self.encoder
        shape = shape_for(n, a.months)
        self.say(f"\n== {shape.label}: {shape.enterprises:,} enterprises, {shape.investors:,} investors, "
                 f"{shape.months} months of funnel ==", flush=True)
        prepared, _ = prepare(base_url, shape, fresh=a.fresh)
        emb_dir = self.bench_dir / f"embeddings-{shape.label}"
        fill_cache(emb_dir, enc.encoder_id, prepared.snapshot, enc.dimension)
        out: dict[str, Any] = {"enterprises": shape.enterprises, "investors": shape.investors, "months": shape.months,
                               "rows": prepared.rows, "market": self._market(prepared)}
        self.say(f"market: {out['market']}", flush=True)
        version = _activate(prepared.url, bundle) if bundle else None
        inv_ids, ent_ids, inproc = self._inprocess(prepared, emb_dir, bundle, version, out)
        del prepared
        release_memory()  # the servers need the memory the in-process matcher held
        with psycopg.connect(bench_url := out.pop("_url"), autocommit=True) as conn:
            reqs = _requests(conn, inv_ids, ent_ids, a.search_requests * 2)
        out["inprocess"] = inproc
        env = {"CAPCONNECT_EMBEDDINGS_DIR": str(emb_dir),
               "CAPCONNECT_MODELS_DIR": str(self.bench_dir / "models"),
               "CAPCONNECT_EXACT_SEARCH_THRESHOLD": str(self.settings.exact_search_threshold)}
        from bench.scale import prebuild

        out["serving_files"] = prebuild.run(bench_url, env)  # the build step: the workers then only map the files
        self.say(f"serving files: {out['serving_files']}", flush=True)
        release_memory()
        out["http"] = {}
        peak = 0.0
        for workers in a.workers:
            need = workers * peak * 1.15  # every worker reads the market at once: their start-up peaks add up
            free = _available_mib()
            if peak and need > free:
                out["http"][str(workers)] = {"skipped": f"{workers} workers would need about {need / 1024:.1f} GiB "
                                                        f"at start-up (peak {peak / 1024:.1f} GiB each); "
                                                        f"{free / 1024:.1f} GiB available"}
                self.say(out["http"][str(workers)]["skipped"], flush=True)
                continue
            out["http"][str(workers)] = h = self._http(bench_url, env, workers, reqs, shape.label)
            peak = max([peak] + [m.get("hwm", 0.0) for m in h.get("memory_mib", [])])
        return out

    @staticmethod
    def _market(p: Prepared) -> dict[str, Any]:
        return {"generate_s": None if p.generate_s is None else round(p.generate_s, 1),
                "load_s": None if p.load_s is None else round(p.load_s, 1),
                "load_rows_per_s": None if p.load_rows_per_s is None else round(p.load_rows_per_s),
                "read_snapshot_s": round(p.read_s, 1), "funnel_events": p.rows["funnel_events"]}

    def _inprocess(self, p: Prepared, emb_dir: Path, bundle: Path | None, version: str | None, out: dict[str, Any]
                   ) -> tuple[list[int], list[int], dict[str, Any]]:
        snap, enc, s = p.snapshot, self.encoder, self.settings
        cache = EmbeddingCache(emb_dir)
        t0 = time.perf_counter()
        vectors = embed_market(snap, enc, cache=cache, secondaries=True)
        ent_vecs, man_vecs = vectors.ent, vectors.man
        vec_s = time.perf_counter() - t0
        p.snapshot = snap = slim_for_serving(snap)  # as a worker serves it (records and texts dropped once embedded)
        release_memory()
        config = IndexConfig(exact_threshold=s.exact_search_threshold, threads=s.faiss_threads)
        shutil.rmtree(emb_dir / "indexes", ignore_errors=True)  # built (and timed) here; the workers load it
        t0 = time.perf_counter()
        index = build_or_load(emb_dir / "indexes", snap.ent_id, ent_vecs, enc.encoder_id, config)
        build_s = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        queries = man_vecs[rng.choice(len(man_vecs), min(self.args.index_queries, len(man_vecs)), replace=False)]
        out["index"] = inprocess.index_figures(index, build_s, queries)
        out["index"]["vectors_from_cache_s"] = round(vec_s, 1)
        self.say(f"index: {out['index']}", flush=True)
        scorer = (ModelBundle.load(bundle, encoder_id=enc.encoder_id, compiled=s.compiled_cache).scorer
                  if bundle else None)  # compiled as the service serves it
        t0 = time.perf_counter()
        m = Matcher(build_context(snap, vectors, index), scorer, Policy.from_settings(s), encoder=enc,
                    query_cache=cache, model_version=version or "")
        out["matcher_build_s"] = round(time.perf_counter() - t0 + build_s, 1)
        inv_ids, ent_ids = _parties(snap, rng, m.context.live.ent, self.args.parties)
        inproc = inprocess.matcher_figures(m, inv_ids[:100], ent_ids[:100])
        self.say(f"in-process: {inproc}", flush=True)
        out["_url"] = p.url
        return inv_ids, ent_ids, inproc

    def _http(self, url: str, env: dict[str, str], workers: int, reqs: dict[str, list[http.Request]], label: str
              ) -> dict[str, Any]:
        a = self.args
        log = self.bench_dir / f"server-{label}-{workers}w.log"
        out: dict[str, Any] = {}
        with http.uvicorn_server(url, env, workers, log=log) as srv:
            out["startup_s"] = round(srv.startup_s, 1)
            out["worker_ready_s"] = srv.ready_s
            self.say(f"{workers} worker(s) ready in {srv.startup_s:.0f} s", flush=True)
            deals = reqs["deals"]
            out["deals_1_client"] = http.run_load(srv.base, deals, concurrency=1, max_requests=a.requests,
                                                  max_seconds=a.seconds).summary()
            out["deals_loaded"] = http.run_load(srv.base, deals, concurrency=2 * workers + 1,
                                                max_requests=a.requests * 3, max_seconds=a.seconds).summary()
            out["investors_1_client"] = http.run_load(srv.base, reqs["investors"], concurrency=1,
                                                      max_requests=a.requests, max_seconds=a.seconds).summary()
            half = len(reqs["search"]) // 2  # each worker count gets texts never encoded before
            search = reqs["search"][:half] if workers == a.workers[0] else reqs["search"][half:]
            out["search_1_client"] = http.run_load(srv.base, search, concurrency=1, max_requests=len(search),
                                                   max_seconds=a.seconds, warmup=0).summary()
            out["memory_mib"] = [http.memory(pid) for pid in srv.pids]
            if workers == max(a.workers) and not a.skip_events:
                out["events"] = self._events(srv.base, url)
        self.say(f"{workers} worker(s): {json.dumps(out, ensure_ascii=False)}", flush=True)
        return out

    def _events(self, base: str, url: str) -> dict[str, Any]:
        from bench.scale.events import ingest_rate, parties_of

        with psycopg.connect(url, autocommit=True) as conn:
            parties = parties_of(conn, n=8)
        n = self.args.events
        single = ingest_rate(base, parties, max(200, n // 10), batch_size=1, concurrency=4, database=url, seed=1)
        batch = ingest_rate(base, parties, n, batch_size=100, concurrency=4, database=url, seed=2)
        with psycopg.connect(url, autocommit=True) as conn:  # posted "now": they would move the market's clock
            conn.execute("DELETE FROM funnel_events WHERE api_key_id IN "
                         "(SELECT id FROM api_keys WHERE label = 'bench events')")
        keep = ("events", "seconds", "events_per_s", "acknowledged", "stored", "batch_size")
        return {"single": {k: single[k] for k in keep}, "batch": {k: batch[k] for k in keep}}

    def once(self, base_url: str) -> dict[str, Any]:
        """Training, bulk import and encoder throughput (not tied to a market size)."""
        a, out = self.args, {}
        if not a.skip_training:
            from bench.scale.training import training_time

            st = self.settings.model_copy(update={"embeddings_dir": self.bench_dir / "embeddings-train",
                                                  "models_dir": self.bench_dir / "models"})
            shape = shape_for(3_000, 12, seed=11) if a.quick else None
            self.say("\n== retraining ==", flush=True)
            out["training"] = training_time(base_url, st, self.encoder, shape=shape,
                                            progress=None if a.quiet else print)
        if not a.skip_import:
            from bench.scale.measures import bulk_import

            self.say("\n== bulk import ==", flush=True)
            out["bulk_import"] = bulk_import(base_url, n_rows=a.import_rows, baseline_rows=max(20, a.import_rows // 10))
        if not a.skip_encoder:
            from bench.scale.measures import encoder_throughput, profile_texts

            self.say("\n== encoder ==", flush=True)
            out["encoder"] = encoder_throughput(self.encoder, profile_texts(a.encoder_texts))
        return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k,1m", help="Market sizes (enterprises), e.g. 10k,100k,1m.")
    ap.add_argument("--workers", default="1,2", help="Worker counts to serve with.")
    ap.add_argument("--seconds", type=float, default=20.0, help="Time limit of each load run.")
    ap.add_argument("--requests", type=int, default=400, help="Requests of each single-client run (×3 loaded).")
    ap.add_argument("--search-requests", type=int, default=60, help="Search requests per worker count.")
    ap.add_argument("--events", type=int, default=20_000, help="Events posted through the batch route.")
    ap.add_argument("--parties", type=int, default=200, help="Investors and enterprises the lists are for.")
    ap.add_argument("--index-queries", type=int, default=200)
    ap.add_argument("--months", type=int, default=None, help="Months of funnel history (default by size).")
    ap.add_argument("--import-rows", type=int, default=20_000)
    ap.add_argument("--encoder-texts", type=int, default=256)
    ap.add_argument("--fresh", action="store_true", help="Regenerate the bench markets.")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--skip-encoder", action="store_true")
    ap.add_argument("--skip-events", action="store_true")
    ap.add_argument("--quick", action="store_true", help="A tiny market and short runs (checks the code runs).")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--results", type=Path, default=RESULTS, help="Where scale.json and scale.md go.")
    ap.add_argument("--no-readme", action="store_true", help="Leave README.md alone.")
    ap.add_argument("--merge", action="store_true", help="Keep the last run's other sizes and figures (rerun some).")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.seconds, args.requests, args.search_requests = "2000", 3.0, 20, 3
        args.events, args.parties, args.index_queries, args.import_rows, args.encoder_texts = 200, 20, 20, 200, 8
    args.workers = [int(w) for w in args.workers.split(",")]
    sizes = [_size(s) for s in args.sizes.split(",")]
    runner = Runner(args)
    results: dict[str, Any] = {"machine": machine(), "sizes": {}}
    t0 = time.perf_counter()
    previous = report.load(args.results)
    if args.merge and previous:  # a partial run: the other sizes (and the once-figures skipped) are kept
        results = {**previous, "machine": machine(), "sizes": dict(previous.get("sizes", {}))}
        previous = report.load_previous(args.results)
    readme = None if (args.no_readme or args.quick) else ROOT / "README.md"
    md = ""
    with open_database(runner.settings) as db:
        once = runner.once(db.url)
        results.update(once)
        bundle = Path(once["training"]["bundle"]) if "training" in once else _latest_bundle(runner.bench_dir)
        results["model"] = None if bundle is None else bundle.name
        for n in sizes:
            results["sizes"][shape_for(n).label] = runner.size(db.url, n, bundle)
            results["seconds"] = round(time.perf_counter() - t0)
            md = report.write(results, args.results, readme=readme, previous=previous)  # after every size
    if not args.quiet:
        print("\n" + md)
    return results


def _available_mib() -> float:
    line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemAvailable"))
    return int(line.split()[1]) / 1024


def _latest_bundle(bench_dir: Path) -> Path | None:
    models = bench_dir / "models"
    found = sorted((p for p in models.glob("*") if (p / "manifest.json").exists()), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
