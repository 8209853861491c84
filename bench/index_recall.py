"""Index build time, query latency and recall@100 of HNSW against exact search.

Vectors: ``--encode`` enterprise profile texts of a generated market are embedded with the real
encoder; the remaining rows up to ``--size`` are convex mixtures of two encoded profiles plus small
noise, renormalised (they keep the encoder's compressed, anisotropic cosine distribution; encoding
100,000 texts on 2 CPU cores would take ~40 minutes). Queries are mandate texts, encoded for real.

    python -m bench.index_recall --size 100000 --encode 3000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from matching.config import Settings
from matching.retrieval.embeddings import EmbeddingCache, embed
from matching.retrieval.encoder.encoder import ensure_default_encoder, load_encoder
from matching.retrieval.index import IndexConfig, VectorIndex
from matching.snapshot.profiles import enterprise_text, mandate_text
from matching.synth.generator import generate_market


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--encode", type=int, default=3000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--m", type=int, default=48, help="HNSW M (links per node)")
    ap.add_argument("--ef", type=int, nargs="*", default=[64, 128, 256, 512], help="efSearch values to sweep")
    args = ap.parse_args()

    market = generate_market(args.encode, max(args.queries, 50), 1, seed=args.seed)
    encoder = load_encoder(ensure_default_encoder(Settings()))
    t0 = time.perf_counter()
    cache = EmbeddingCache(Settings().embedding_cache_dir)
    base = embed(encoder, [enterprise_text(e) for e in market.enterprises], kind="passage", cache=cache,
                 show_progress=True)
    t_enc = time.perf_counter() - t0
    mandates = {m.investor_key: m for m in market.mandates}
    q = embed(encoder, [mandate_text(i, mandates.get(i.key)) for i in market.investors][: args.queries],
              kind="query", cache=cache)
    rng = np.random.default_rng(args.seed)
    extra = args.size - len(base)
    a, b = rng.integers(0, len(base), extra), rng.integers(0, len(base), extra)
    w = rng.uniform(0.6, 1.0, (extra, 1)).astype(np.float32)
    mix = w * base[a] + (1 - w) * base[b] + rng.normal(0, 0.01, (extra, base.shape[1])).astype(np.float32)
    vecs = np.vstack([base, mix / np.linalg.norm(mix, axis=1, keepdims=True)]).astype(np.float32)
    ids = np.arange(len(vecs))

    t0 = time.perf_counter()
    exact = VectorIndex(vecs.shape[1], encoder.encoder_id, IndexConfig(exact_threshold=10**9)).build(ids, vecs)
    t_flat = time.perf_counter() - t0
    t0 = time.perf_counter()
    hnsw_config = IndexConfig(exact_threshold=0, hnsw_m=args.m)
    hnsw = VectorIndex(vecs.shape[1], encoder.encoder_id, hnsw_config).build(ids, vecs)
    t_hnsw = time.perf_counter() - t0

    def per_query(fn) -> tuple[float, list[np.ndarray]]:  # type: ignore[no-untyped-def]
        out, times = [], []
        for row in q:
            t = time.perf_counter()
            out.append(fn(row)[0][0])
            times.append(time.perf_counter() - t)
        return float(np.median(times) * 1000), out

    ms_numpy, truth = per_query(lambda r: exact.exact_search(r, 100))
    ms_flat, _ = per_query(lambda r: exact.search(r, 100))
    sweep = []
    for ef in args.ef:
        hnsw.config = IndexConfig(exact_threshold=0, hnsw_m=args.m, ef_search=ef)
        ms, approx = per_query(lambda r: hnsw.search(r, 100))
        sweep.append((ef, ms, float(np.mean([len(set(x) & set(y)) / 100 for x, y in zip(approx, truth, strict=True)]))))
    speed = "read from the embedding cache" if t_enc < 1 else f"{len(base) / t_enc:.1f} texts/s"
    print(f"encoder: {encoder.encoder_id}; {len(base):,} profiles embedded in {t_enc:.1f} s ({speed})")
    print(f"vectors: {len(vecs):,} × {vecs.shape[1]}; queries: {len(q)} mandate texts; FAISS threads in search: 1")
    print(f"{'method':<28}{'build s':>10}{'p50 query ms':>14}{'recall@100':>12}")
    print(f"{'exact NumPy scan (baseline)':<28}{0.0:>10.2f}{ms_numpy:>14.2f}{1.0:>12.3f}")
    print(f"{'FAISS IndexFlatIP':<28}{t_flat:>10.2f}{ms_flat:>14.2f}{1.0:>12.3f}")
    for ef, ms, recall in sweep:
        label = f"FAISS HNSW (M={args.m}, ef={ef})"
        print(f"{label:<28}{t_hnsw:>10.2f}{ms:>14.2f}{recall:>12.3f}   {ms_numpy / ms:.1f}× faster than NumPy")


if __name__ == "__main__":
    main()
