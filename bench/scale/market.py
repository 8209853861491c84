"""Bench markets: a generated market of a given size in its own database, with its vectors.

:func:`prepare` generates ``n`` enterprises with proportional investors and funnel history
(:data:`SHAPES`), bulk-loads them into the database ``capconnect_bench_<label>`` next to the
configured one (timed: this is the generator's COPY path), reads the market back as the service
does (timed) and writes one vector per profile and mandate text into the service's embedding
cache, under the real encoder's id, so the service starts from the cache.

The vectors are *synthetic* (:func:`synthetic_vectors`): sector centroids plus district and
noise terms, the encoder's dimension, L2-normalised. The real encoder runs at about 60 texts/s on
this machine (1,000,000 profiles would take 4.6 hours), so its throughput is measured on a sample
(``bench.scale.measures.encoder_throughput``) and the serving figures use these vectors. Search
queries are still encoded by the real encoder inside the request.

A prepared database is reused when its recorded shape matches (``fresh=True`` rebuilds it).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import psycopg

from matching.retrieval.embeddings import EmbeddingCache, text_key
from matching.snapshot.core import MarketSnapshot
from matching.synth.generator import generate_market
from store.batch import MarketBatch, save_batch
from store.database import Database, upgrade
from store.market_read import read_market
from store.scratch import with_database

logger = logging.getLogger(__name__)

#: Investors per enterprise, as in the demo market (600 per 5,000).
INVESTOR_RATIO = 0.12


@dataclass(frozen=True)
class Shape:
    """How a bench market is drawn."""

    enterprises: int
    investors: int
    months: int
    seed: int = 7

    @property
    def label(self) -> str:
        """``10k``, ``100k``, ``1m`` or the plain count."""
        n = self.enterprises
        if n % 1_000_000 == 0:
            return f"{n // 1_000_000}m"
        return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def shape_for(n: int, months: int | None = None, seed: int = 7) -> Shape:
    """Proportional investors; months of funnel history shrink as the market grows (events stay near
    six per enterprise up to 100,000 and about one at 1,000,000, so the 1M load stays in memory)."""
    if months is None:
        months = 12 if n <= 20_000 else 3 if n <= 200_000 else 1
    return Shape(n, max(10, round(n * INVESTOR_RATIO)), months, seed)


@dataclass
class Prepared:
    """A bench market ready to serve."""

    shape: Shape
    url: str
    rows: dict[str, int]
    generate_s: float | None  # None: reused from an earlier run
    load_s: float | None
    read_s: float
    snapshot: MarketSnapshot

    @property
    def load_rows_per_s(self) -> float | None:
        """Rows of every table per second through the bulk (COPY) loader."""
        if not self.load_s:
            return None
        return sum(self.rows.values()) / self.load_s


def bench_url(base_url: str, shape: Shape) -> str:
    """The URL of the bench database of ``shape`` on the server of ``base_url``."""
    return with_database(base_url, f"capconnect_bench_{shape.label}")


def prepare(base_url: str, shape: Shape, *, fresh: bool = False) -> tuple[Prepared, float]:
    """Generate and load the market (or reuse it) and read it back; also returns the read seconds."""
    url = bench_url(base_url, shape)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(base_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
        if exists and (fresh or _recorded(url) != asdict(shape)):
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    gen_s = load_s = None
    if not exists:
        upgrade(url)
        t0 = time.perf_counter()
        market = generate_market(shape.enterprises, shape.investors, months=shape.months, seed=shape.seed)
        gen_s = time.perf_counter() - t0
        batch = MarketBatch(market.enterprises, market.investors, market.mandates, market.needs,
                            market.secondaries, market.events)
        del market
        t0 = time.perf_counter()
        save_batch(Database(url=url), batch)
        load_s = time.perf_counter() - t0
        del batch
        _record(url, shape)
    else:
        upgrade(url)  # a reused market gets the migrations added since it was generated (its rows stay)
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        stored = read_market(conn)
        rows = _row_counts(conn)
    snapshot = stored.snapshot()
    read_s = time.perf_counter() - t0
    del stored
    return Prepared(shape, url, rows, gen_s, load_s, read_s, snapshot), read_s


def _row_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = ("enterprises", "enterprise_financials", "investors", "mandates", "financing_needs",
              "secondary_listings", "funnel_events")
    return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}


def _record(url: str, shape: Shape) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_shape (shape jsonb NOT NULL)")
        conn.execute("DELETE FROM bench_shape")
        conn.execute("INSERT INTO bench_shape VALUES (%s::jsonb)", (_json(asdict(shape)),))


def _recorded(url: str) -> dict[str, int] | None:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT shape FROM bench_shape").fetchone()
    except psycopg.Error:
        return None
    return dict(row[0]) if row else None


def _json(value: object) -> str:
    import json

    return json.dumps(value)


def synthetic_vectors(snapshot: MarketSnapshot, dimension: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Profile and mandate vectors with the market's structure (see the module docstring).

    Enterprises: their sector's centroid, half their district's, and noise. Mandates: the mean of
    their sectors' centroids (none: a random direction), and noise. L2-normalised, float32.
    """
    rng = np.random.default_rng(seed)
    n_sec = len(snapshot.sectors.names) + 1
    centroids = rng.standard_normal((n_sec, dimension)).astype(np.float32)
    districts = sorted({d or "" for d in snapshot.ent_district})
    d_index = {d: j for j, d in enumerate(districts)}
    d_vecs = rng.standard_normal((len(districts), dimension)).astype(np.float32)
    sector = np.where(snapshot.ent_sector >= 0, snapshot.ent_sector, n_sec - 1)
    dist = np.fromiter((d_index[d or ""] for d in snapshot.ent_district), dtype=np.int64,
                       count=snapshot.n_enterprises)
    ent = centroids[sector]
    ent += 0.5 * d_vecs[dist]
    ent += 0.9 * rng.standard_normal(ent.shape, dtype=np.float32)
    man = rng.standard_normal((snapshot.n_investors, dimension)).astype(np.float32) * 0.9
    for i, secs in enumerate(snapshot.man_sectors):
        if secs:
            man[i] += centroids[list(secs)].mean(axis=0)
    ent /= np.linalg.norm(ent, axis=1, keepdims=True)
    man /= np.linalg.norm(man, axis=1, keepdims=True)
    return ent, man


def fill_cache(folder: Path, encoder_id: str, snapshot: MarketSnapshot, dimension: int) -> int:
    """Write synthetic vectors for every profile, listing and mandate text the cache lacks; returns how many."""
    from matching.retrieval.vectors import listing_texts

    cache = EmbeddingCache(folder)
    ent, man = synthetic_vectors(snapshot, dimension)
    sec_texts = listing_texts(snapshot)
    sec = np.random.default_rng(1).standard_normal((len(sec_texts), dimension)).astype(np.float32)
    sec /= np.maximum(np.linalg.norm(sec, axis=1, keepdims=True), 1e-12)
    written = 0
    for kind, texts, vecs in (("passage", list(snapshot.ent_text) + sec_texts, np.vstack([ent, sec])),
                              ("query", snapshot.man_text, man)):
        keys = [text_key(t) for t in texts]
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        ukeys = list(first)
        found, _ = cache.lookup(encoder_id, kind, ukeys)  # type: ignore[arg-type]
        todo = [k for k, f in zip(ukeys, found, strict=True) if not f]
        if todo:
            cache.store(encoder_id, kind, todo, vecs[[first[k] for k in todo]])  # type: ignore[arg-type]
            cache.compact(encoder_id, kind)  # type: ignore[arg-type]
            written += len(todo)
    return written
