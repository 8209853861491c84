"""NDCG@10 of the LambdaRank ranker on a generated market's held-out months, beside baselines.

Both directions; train on the early months, early-stop on the validation window, report the test
window (the last ``--test-days``). Baselines on the same candidates: random order, similarity only
(the real encoder's mandate·profile cosine), popularity, and the rule-fit of the mandate.

    python -m bench.ranker_heldout --enterprises 2000 --investors 250 --months 18
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from matching.config import Settings
from matching.learning.dataset import build_ranking_data, last_days_split
from matching.ranking.ranker import LambdaRanker, ndcg_at_k
from matching.retrieval.embeddings import EmbeddingCache, embed
from matching.retrieval.encoder.encoder import ensure_default_encoder, load_encoder
from matching.snapshot.core import build_snapshot
from matching.synth.generator import generate_market


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--enterprises", type=int, default=2000)
    ap.add_argument("--investors", type=int, default=250)
    ap.add_argument("--months", type=int, default=18)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--valid-days", type=float, default=60)
    ap.add_argument("--test-days", type=float, default=90)
    args = ap.parse_args()

    settings = Settings()
    m = generate_market(args.enterprises, args.investors, args.months, seed=args.seed)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    encoder = load_encoder(ensure_default_encoder(settings))
    cache = EmbeddingCache(settings.embedding_cache_dir)
    t0 = time.perf_counter()
    ent_vecs = embed(encoder, snap.ent_text, kind="passage", cache=cache, show_progress=True)
    man_vecs = embed(encoder, snap.man_text, kind="query", cache=cache, show_progress=True)
    t_embed = time.perf_counter() - t0
    windows = last_days_split(snap, valid_days=args.valid_days, test_days=args.test_days)
    print(f"market {args.enterprises:,} enterprises × {args.investors:,} investors × {args.months} months, "
          f"{len(m.events):,} events; encoder {encoder.encoder_id}; embeddings {t_embed:.0f} s")
    print(f"{'direction':<12}{'scorer':<16}{'NDCG@10':>9}   (test window: last {args.test_days:.0f} days)")
    for direction in ("investor", "enterprise"):
        data = {k: build_ranking_data(snap, direction, *w, ent_vecs=ent_vecs, man_vecs=man_vecs, seed=0)
                for k, w in windows.items()}
        t0 = time.perf_counter()
        ranker = LambdaRanker(seed=0).fit(data["train"], data["valid"])
        t_fit = time.perf_counter() - t0
        test = data["test"]
        rng = np.random.default_rng(0)
        rows = {
            "ranker": ndcg_at_k(test.y, ranker.predict(test.X), test.group),
            "random": float(np.mean([ndcg_at_k(test.y, rng.random(len(test)), test.group) for _ in range(20)])),
            "similarity": ndcg_at_k(test.y, test.column("semantic_sim"), test.group),
            "popularity": ndcg_at_k(test.y, np.nan_to_num(test.column("ent_popularity")), test.group),
        }
        for name, value in rows.items():
            print(f"{direction:<12}{name:<16}{value:>9.3f}")
        print(f"{direction:<12}{'(train)':<16}{len(data['train']):>9,} rows, {data['train'].n_queries:,} queries, "
              f"fit {t_fit:.1f} s; test {len(test):,} rows, {test.n_queries:,} queries")


if __name__ == "__main__":
    main()
