"""Alerts for 1,000 new needs against 600 and 60,000 investors: incremental matching beside re-ranking every list.

    python -m bench.alerts                          # both sizes, 1,000 needs each (under 10 minutes here)
    python -m bench.alerts --shapes 600x5000 --needs 200   # one size, fewer needs

For each shape (investors × enterprises: 600 × 5,000, the demo market's, and 60,000 × 2,000) it generates a market
(every investor's mandate a standing query, top 10, no threshold), gives it *synthetic* vectors
(:func:`bench.scale.market.synthetic_vectors`; the real encoder would take hours for 60,000 mandates), builds the
serving context and serves it with a two-sided LambdaRank model trained on the 600-investor market (the same one
for both sizes). Then ``--needs`` live needs are taken as the change, one at a time, each beside the baseline:

* **incremental** (:func:`matching.serving.alerts.new_alerts`): each need arrives alone into the market of all
  the others (it is compared with each list *without* it); the hard rules of the one need against every
  investor, the features and scores of the pairs that pass, the comparison with each query's cutoff; per need
  p50 / p99 ms, pairs scored and alerts raised. The cutoffs (each standing query's exhaustive list, built once, then
  kept up to date by the alerts themselves: :class:`~matching.serving.alertstate.ListState`) are timed apart as
  the state build.
* **baseline, re-ranking every list**: after a change, the non-incremental way recomputes every standing query's
  deal list (:meth:`Matcher.recommend_enterprises_batch`, k = 20) and looks for the new need in it. Its cost per
  need is the time of those lists: measured in full on the 600-investor market, and on a sample of lists on the
  60,000-investor market (per-list time × investors: extrapolated, and said so).

Results go to ``bench/results/alerts.{json,md}``. Runtime is bounded by ``--max-seconds`` (the needs loop stops
early and says so) and memory is reported (peak RSS).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.scale.market import synthetic_vectors
from matching.config import Settings
from matching.retrieval.index import IndexConfig, VectorIndex
from matching.retrieval.vectors import MarketVectors
from matching.serving.alerts import ListState, StandingQuery, new_alerts
from matching.serving.context import MatchContext, build_context
from matching.serving.matcher import Matcher, Policy
from matching.snapshot.core import MarketSnapshot, build_snapshot
from matching.synth.generator import Market, generate_market

RESULTS = Path(__file__).parent / "results"
DIM = 384
TOP_N = 10


class _NoEncoder:
    """The bench serves no free-text search: a matcher needs an encoder object, never called here."""

    encoder_id = "bench-synthetic-384"

    def encode_queries(self, texts: Any, **kw: Any) -> np.ndarray:
        raise RuntimeError("the alerts bench encodes no text")

    encode_passages = encode_queries


def _pcts(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms) if ms else np.zeros(1)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p99_ms": round(float(np.percentile(a, 99)), 2),
            "mean_ms": round(float(a.mean()), 2)}


def _rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, 2)


def market(n_ent: int, n_inv: int, months: int, seed: int) -> tuple[Market, MarketSnapshot]:
    """A generated market and its snapshot as of just after its last event."""
    m = generate_market(n_ent, n_inv, months, seed=seed)
    as_of = max(e.occurred_at for e in m.events) + timedelta(seconds=1)
    return m, build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events, as_of=as_of)


def context(snap: MarketSnapshot, settings: Settings) -> MatchContext:
    """The serving context over synthetic vectors (the reload a market change makes the service do)."""
    ent, man = synthetic_vectors(snap, DIM)
    rng = np.random.default_rng(3)
    sec = rng.standard_normal((len(snap.sec_id), DIM)).astype(np.float32)
    sec /= np.maximum(np.linalg.norm(sec, axis=1, keepdims=True), 1e-12)
    index = VectorIndex(DIM, _NoEncoder.encoder_id, IndexConfig(exact_threshold=settings.exact_search_threshold,
                                                                threads=1))
    index.build(snap.ent_id, ent)
    return build_context(snap, MarketVectors(ent, man, sec), index)


def train_scorer(snap: MarketSnapshot, ctx: MatchContext) -> Any:
    """A two-sided LambdaRank model on the market's funnel (train, then the last 15 days to calibrate)."""
    from matching.learning.dataset import build_ranking_data, last_days_split
    from matching.ranking.ranker import LambdaRanker
    from matching.ranking.twosided import TwoSidedScorer

    split = last_days_split(snap, valid_days=15, test_days=1)
    vecs = {"ent_vecs": ctx.ent_vecs, "man_vecs": ctx.man_vecs}
    data = {(d, w): build_ranking_data(snap, d, *split[w], **vecs) for d in ("investor", "enterprise")
            for w in ("train", "valid")}
    rankers = {d: LambdaRanker(seed=0).fit(data[(d, "train")], num_boost_round=60) for d in ("investor", "enterprise")}
    return TwoSidedScorer.fit_calibrators(rankers["investor"], rankers["enterprise"], data[("investor", "valid")],
                                          data[("enterprise", "valid")])


def run_size(n_inv: int, n_ent: int, args: argparse.Namespace, scorer: Any, settings: Settings
             ) -> tuple[dict[str, Any], Any]:
    """Every figure of one size (and the scorer, trained on the first size when none is given)."""
    out: dict[str, Any] = {"investors": n_inv, "enterprises": n_ent}
    t = time.perf_counter()
    m_records, snap = market(n_ent, n_inv, args.months if n_inv <= 10_000 else args.months_large, args.seed)
    out["generate_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    ctx = context(snap, settings)
    out["context_build_s"] = round(time.perf_counter() - t, 1)  # what a market reload costs the engine
    if scorer is None:
        t = time.perf_counter()
        scorer = train_scorer(snap, ctx)
        out["train_s"] = round(time.perf_counter() - t, 1)
    m = Matcher(ctx, scorer, Policy.from_settings(settings), encoder=_NoEncoder(),  # type: ignore[arg-type]
                model_version="bench-two-sided")
    queries = [StandingQuery(int(i), top_n=TOP_N) for i in snap.inv_id[snap.inv_active]]
    inv_key = {i.key: int(snap.inv_id[r]) for r, i in enumerate(m_records.investors)}
    ent_key = {e.key: int(snap.ent_id[r]) for r, e in enumerate(m_records.enterprises)}
    dismissed = {(inv_key[e.investor_key], ent_key[e.enterprise_key]) for e in m_records.events
                 if e.event_type == "dismissed" and e.actor == "investor"}
    del m_records
    rng = np.random.default_rng(args.seed)
    live = ctx.live.need
    rows = rng.choice(live, size=min(args.needs, len(live)), replace=False)
    out.update(standing_queries=len(queries), live_needs=len(live), new_needs=len(rows), dismissed_pairs=len(dismissed))
    # the state: each query's cutoff from its deal list, once (as after a restart or a model swap)
    state = ListState()
    t = time.perf_counter()
    state.ensure(m, queries)  # each need then arrives alone into the market of all the others
    build_s = time.perf_counter() - t
    out["state_build"] = {"seconds": round(build_s, 1), "per_query_ms": round(build_s * 1000 / len(queries), 2)}
    # incremental: one new need at a time
    ms, pairs, alerts, sent = [], [], 0, set()
    deadline = time.perf_counter() + args.max_seconds
    for r in rows:
        t = time.perf_counter()
        got = new_alerts(m, queries, np.array([r]), state=state, dismissed=dismissed, sent=sent)
        ms.append((time.perf_counter() - t) * 1000)
        alerts += len(got)
        sent |= {a.key for a in got}
        pairs.append(int(ctx.rules.investors_for(int(r), tolerance=m.policy.tolerance).sum()))
        if time.perf_counter() > deadline:
            out["stopped_early"] = f"after {len(ms)} needs: --max-seconds {args.max_seconds}"
            break
    out["incremental"] = {**_pcts(ms), "needs": len(ms), "eligible_investors_per_need_mean": round(
        float(np.mean(pairs)), 1), "alerts": alerts, "alerts_per_need": round(alerts / max(len(ms), 1), 2)}
    # the baseline: every standing query's deal list again after each change
    ids = [q.investor_id for q in queries]
    sample = ids if len(ids) <= args.baseline_sample else list(rng.choice(ids, args.baseline_sample, replace=False))
    lists_ms = []
    for start in range(0, len(sample), 256):
        chunk = sample[start:start + 256]
        t = time.perf_counter()
        m.recommend_enterprises_batch([int(i) for i in chunk], 2 * TOP_N)
        lists_ms.append((time.perf_counter() - t) * 1000 / len(chunk))
    per_list = float(np.average(lists_ms, weights=[min(256, len(sample) - s) for s in range(0, len(sample), 256)]))
    out["baseline_rerank_all"] = {"per_list_ms": round(per_list, 2), "lists_timed": len(sample),
                                  "per_need_ms": round(per_list * len(ids), 1),
                                  "measured": "in full" if len(sample) == len(ids) else
                                  f"extrapolated from {len(sample)} lists × {len(ids)} investors"}
    out["speedup_p50"] = round(out["baseline_rerank_all"]["per_need_ms"] / max(out["incremental"]["p50_ms"], 1e-9), 1)
    out["peak_rss_gib"] = _rss_gib()
    return out, scorer


def markdown(result: dict[str, Any]) -> str:
    """The results table (README and ``bench/results/alerts.md``)."""
    lines = [f"Measured {result['measured_at']} on {result['machine']}; {result['needs']} new needs per size, "
             f"mandates as standing queries (top {TOP_N}, no threshold), two-sided LambdaRank model, synthetic 384-d "
             f"vectors; whole run {result['total_s']:.0f} s.", "",
             "| investors × enterprises | standing queries | incremental per new need p50 / p99 ms | "
             "eligible investors per need | alerts per need | state build (once) | "
             "baseline: re-rank every list, per need | speed-up (p50) | "
             "market reload (context build) | peak RSS |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in result["sizes"]:
        inc, base, st = s["incremental"], s["baseline_rerank_all"], s["state_build"]
        lines.append(
            f"| {s['investors']:,} × {s['enterprises']:,} | {s['standing_queries']:,} | {inc['p50_ms']} / "
            f"{inc['p99_ms']} ({inc['needs']} needs) | {inc['eligible_investors_per_need_mean']:,} | "
            f"{inc['alerts_per_need']} | {st['seconds']} s ({st['per_query_ms']} ms per query) | "
            f"{base['per_need_ms']:,} ms ({base['per_list_ms']} ms per list, {base['measured']}) | "
            f"{s['speedup_p50']:,}× | {s['context_build_s']} s | {s['peak_rss_gib']} GiB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark (``argv``: the command line's arguments) and return the results written."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", nargs="+", default=["600x5000", "60000x2000"], help="INVESTORSxENTERPRISES")
    ap.add_argument("--months", type=int, default=2, help="months of funnel history")
    ap.add_argument("--months-large", type=int, default=1, help="months of funnel history above 10,000 investors "
                    "(60,000 investors: about 500,000 events a month)")
    ap.add_argument("--needs", type=int, default=1000)
    ap.add_argument("--baseline-sample", type=int, default=1000, help="lists timed for the baseline per size")
    ap.add_argument("--max-seconds", type=float, default=150.0, help="bound on each size's needs loop")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    settings = Settings()
    t0 = time.perf_counter()
    sizes, scorer = [], None
    for shape in args.shapes:
        n_inv, n_ent = (int(x) for x in shape.lower().split("x"))
        res, scorer = run_size(n_inv, n_ent, args, scorer, settings)
        sizes.append(res)
        print(json.dumps(res, ensure_ascii=False), flush=True)
    result = {"measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
              "needs": args.needs, "total_s": round(time.perf_counter() - t0, 1), "sizes": sizes}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "alerts.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (args.out / "alerts.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
