"""Training's batch work in process and on a Dask cluster of 1 and 2 workers on this machine.

Measures, in one run and beside the in-process baseline:

- **embedding**: texts/s of the real encoder (multilingual-e5-small on torch) over ``--texts`` enterprise
  profile texts of a generated market, no cache (every text encoded); in process the encoder runs on
  torch's default threads, on the cluster each worker process has 1 thread and loads the encoder once
  (its load time is reported apart, measured on a first small partition per worker). The largest
  difference from the in-process vectors is reported too;
- **training**: the point-in-time training rows of both directions (a Dask task per period) and the two
  LambdaRank fits (``lightgbm.DaskLGBMRanker``) on a generated market of ``--enterprises`` ×
  ``--investors`` over ``--months`` (the demo's size by default), with synthetic vectors
  (:func:`bench.scale.market.synthetic_vectors`: the cost of the rows and fits does not depend on the
  encoder); holdout NDCG@10 per direction beside each.

Writes ``bench/results/dask.json`` and ``dask.md``. 196 s on the shared 2-core box (load average 5-7)::

    python -m bench.dask
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.scale.market import synthetic_vectors
from matching.config import Settings
from matching.learning import metrics
from matching.learning.dataset import build_ranking_data
from matching.retrieval.embeddings import embed
from matching.retrieval.encoder.encoder import ensure_default_encoder, load_encoder
from matching.snapshot.core import build_snapshot
from matching.snapshot.profiles import enterprise_text
from matching.synth.generator import generate_market
from training import pipeline
from training.cluster import IN_PROCESS, Batch

RESULTS = Path(__file__).parent / "results"


def _embedding(batch: Batch, encoder: Any, texts: list[str], reference: np.ndarray | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    enc = batch.encoder(encoder)
    if batch is not IN_PROCESS:  # load the encoder on every worker first (one small partition each)
        t0 = time.perf_counter()
        embed(enc, texts[: 2 * 8], kind="passage", batch_size=8)
        out["worker_load_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    vecs = embed(enc, texts, kind="passage", batch_size=64)
    seconds = time.perf_counter() - t0
    out.update(texts=len(texts), seconds=round(seconds, 1), texts_per_s=round(len(texts) / seconds, 1))
    if reference is not None:
        out["max_abs_diff_vs_in_process"] = float(np.abs(vecs - reference).max())
    return out | {"_vectors": vecs}


def _training(batch: Batch, inputs: pipeline.Inputs, config: pipeline.TrainConfig) -> dict[str, Any]:
    wins = pipeline.windows(inputs.snap, config)
    t0 = time.perf_counter()
    data = pipeline.build_training_data(inputs, config, wins, batch=batch)
    rows_s = time.perf_counter() - t0
    out: dict[str, Any] = {"rows_s": round(rows_s, 1), "directions": {}}
    fit_total = 0.0
    for side, d in data.items():
        t0 = time.perf_counter()
        ranker = batch.fit_ranker(d["train"], d["valid"], seed=config.seed, num_boost_round=config.num_boost_round)
        fit_s = time.perf_counter() - t0
        fit_total += fit_s
        hold = build_ranking_data(inputs.snap, side, *wins["holdout"], ent_vecs=inputs.ent_vecs,
                                  man_vecs=inputs.man_vecs)
        out["directions"][str(side)] = {
            "train_rows": len(d["train"]), "queries": d["train"].n_queries, "fit_s": round(fit_s, 1),
            "rounds": int(ranker.booster.current_iteration()) if ranker.booster else 0,
            "best_iteration": ranker.best_iteration,
            "holdout_ndcg@10": round(metrics.ndcg_at_k(hold.y, ranker.predict(hold.X), hold.group, 10), 4)}
    out["fit_s"] = round(fit_total, 1)
    out["total_s"] = round(rows_s + fit_total, 1)
    return out


def _table(results: dict[str, Any]) -> str:
    m = results["market"]
    lines = [
        "# Training's batch work: in process and on a Dask cluster (this machine)",
        "",
        f"`python -m bench.dask` on {results['machine']} (load average {results['load_before']} before, "
        f"{results['load_after']} after: other work shared the cores; the run took {results['run_s']} s). "
        f"Embedding: {results['texts']} profile texts, real encoder, no cache. "
        f"Training: a generated market of {m['enterprises']:,} enterprises × "
        f"{m['investors']:,} investors over {m['months']} months ({m['events']:,} funnel events), synthetic vectors.",
        "",
        "| where | embedding texts/s | encoder load per worker (s) | max abs diff vs in process | "
        "training rows (s) | fits (s) | rows + fits (s) | holdout NDCG@10 inv / ent |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        e, t = r["embedding"], r["training"]
        nd = " / ".join(f"{t['directions'][d]['holdout_ndcg@10']:.4f}" for d in ("investor", "enterprise"))
        diff = e.get("max_abs_diff_vs_in_process")
        shown = "—" if diff is None else f"{diff:.1e}"
        lines.append(f"| {name} | {e['texts_per_s']} | {e.get('worker_load_s', '—')} | {shown} | {t['rows_s']} | "
                     f"{t['fit_s']} | {t['total_s']} | {nd} |")
    lines += ["", "Rows per direction (train window): " + ", ".join(
        f"{d} {v['train_rows']:,} rows / {v['queries']:,} queries"
        for d, v in results["runs"]["in process"]["training"]["directions"].items()), ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=int, default=256, help="profile texts to embed per setting")
    ap.add_argument("--enterprises", type=int, default=5000)
    ap.add_argument("--investors", type=int, default=600)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="Dask cluster sizes to measure")
    ap.add_argument("--out", type=Path, default=RESULTS / "dask")
    args = ap.parse_args()

    from distributed import Client, LocalCluster

    from training.dask_batch import DaskBatch

    started = time.perf_counter()
    settings = Settings()
    load_before = [round(x, 2) for x in os.getloadavg()]
    texts = [enterprise_text(e) for e in generate_market(args.texts, 20, 1, seed=11).enterprises][: args.texts]
    encoder_dir = ensure_default_encoder(settings)
    encoder = load_encoder(encoder_dir)
    m = generate_market(args.enterprises, args.investors, args.months, seed=7)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    ent_vecs, man_vecs = synthetic_vectors(snap, encoder.dimension)
    inputs = pipeline.Inputs(snap, ent_vecs, man_vecs, encoder)
    config = pipeline.TrainConfig()
    runs: dict[str, Any] = {}
    emb = _embedding(IN_PROCESS, encoder, texts, None)
    reference = emb.pop("_vectors")
    runs["in process"] = {"embedding": emb, "training": _training(IN_PROCESS, inputs, config)}
    for n in args.workers:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit="4GiB",
                               dashboard_address=None)
        client = Client(cluster)
        batch = DaskBatch(client)
        try:
            emb = _embedding(batch, encoder, texts, reference)
            emb.pop("_vectors")
            runs[f"Dask, {n} worker{'s' if n > 1 else ''}"] = {"embedding": emb,
                                                               "training": _training(batch, inputs, config)}
        finally:
            batch.close()
            client.close()
            cluster.close()
    results = {
        "machine": f"{os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()], "texts": len(texts),
        "market": {"enterprises": args.enterprises, "investors": args.investors, "months": args.months,
                   "events": int(len(inputs.snap.ev_time))},
        "runs": runs, "run_s": round(time.perf_counter() - started),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    table = _table(results)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
