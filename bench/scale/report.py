"""The performance table: Markdown from the figures, the targets checked, the previous run as a baseline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

START, END = "<!-- bench:scale:start -->", "<!-- bench:scale:end -->"

#: Targets of the performance issue (2-core machine): (size, figure) → (limit, "max" or "min").
TARGETS: dict[tuple[str, str], tuple[float, str]] = {
    ("100k", "deals_p50"): (10, "max"), ("100k", "deals_p99"): (40, "max"),
    ("100k", "deals_per_s_2w"): (150, "min"),
    ("1m", "deals_p50"): (25, "max"), ("1m", "deals_p99"): (100, "max"), ("1m", "rss_mib"): (2048, "max"),
    ("100k", "search_p50"): (60, "max"), ("100k", "rss_mib"): (1024, "max"), ("1m", "ready_s"): (60, "max"),
}


def load(folder: Path) -> dict[str, Any] | None:
    """The figures of the last run in ``folder`` (``None`` before the first)."""
    path = folder / "scale.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def load_previous(folder: Path) -> dict[str, Any] | None:
    """The run before the last (the baseline a partial ``--merge`` run compares with)."""
    path = folder / "scale.previous.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _f(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _mark(size: str, figure: str, value: float | None) -> str:
    t = TARGETS.get((size, figure))
    if t is None or value is None:
        return ""
    ok = value <= t[0] if t[1] == "max" else value >= t[0]
    return " ✓" if ok else f" ✗ (target {'≤' if t[1] == 'max' else '≥'} {t[0]:g})"


def _ratio(now: Any, before: Any) -> str:
    if not isinstance(now, (int, float)) or not isinstance(before, (int, float)) or not before:
        return "–"
    return f"{now / before:.2f}×"


def _files(sf: dict[str, Any] | None) -> str:
    if not sf:
        return "–"
    built = "" if sf.get("built", True) else " (found, not rebuilt)"
    return f"{_f(sf.get('seconds'))} / {_f(sf.get('peak_rss_mib'), 0)} / {_f(sf.get('files_mib'), 0)}{built}"


def table(r: dict[str, Any], prev: dict[str, Any] | None = None) -> str:
    """The whole table as Markdown."""
    m = r["machine"]
    lines = [f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']} "
             f"(load average at start {', '.join(f'{x:.1f}' for x in m['load_average'])}); model "
             f"`{r.get('model')}`; whole run {r.get('seconds', 0) / 60:.0f} min.", ""]
    lines += ["**Serving through HTTP** (uvicorn on loopback, load from another process; k = 20; p50 / p99 in ms, "
              "1 client unless said; ✓/✗: the issue's targets)", "",
              "| size | workers | deal list p50 / p99 | deal lists/s (loaded) | investor list p50 / p99 | "
              "search p50 / p99 | memory per worker RSS / PSS / own (anonymous) / peak MiB | each worker ready in s |",
              "|---|---|---|---|---|---|---|---|"]
    for size, s in r["sizes"].items():
        for w, h in s.get("http", {}).items():
            if "skipped" in h:
                lines.append(f"| {size} | {w} | skipped: {h['skipped']} | | | | | |")
                continue
            d, dl, iv, se = h["deals_1_client"], h["deals_loaded"], h["investors_1_client"], h["search_1_client"]
            mem = h.get("memory_mib", [])
            per_worker = "; ".join(f"{_f(x.get('rss'), 0)}{_mark(size, 'rss_mib', x.get('rss'))} / "
                                   f"{_f(x.get('pss'), 0)} / {_f(x.get('anon'), 0)} / {_f(x.get('hwm'), 0)}"
                                   for x in mem) or "–"
            ready = h.get("worker_ready_s") or [h["startup_s"]]
            ready_s = "; ".join(f"{_f(x)}{_mark(size, 'ready_s', x)}" for x in ready)
            per_s = dl["per_s"]
            lines.append(
                f"| {size} | {w} | {_f(d['p50_ms'])}{_mark(size, 'deals_p50', d['p50_ms']) if w == '1' else ''} / "
                f"{_f(d['p99_ms'])}{_mark(size, 'deals_p99', d['p99_ms']) if w == '1' else ''} | {_f(per_s)} "
                f"(c={dl['concurrency']}, p50 {_f(dl['p50_ms'])})"
                f"{_mark(size, 'deals_per_s_2w', per_s) if w == '2' else ''}"
                f" | {_f(iv['p50_ms'])} / {_f(iv['p99_ms'])} | {_f(se['p50_ms'])}"
                f"{_mark(size, 'search_p50', se['p50_ms']) if w == '1' else ''} / {_f(se['p99_ms'])} | "
                f"{per_worker} | {ready_s} |")
    lines += ["", "**Baselines in the same run** (in-process = the matcher called directly: no HTTP, auth or "
              "impression log)", "",
              "| size | in-process deal list p50 / p99 | in-process investor list p50 / p99 | 1 → 2 workers, lists/s | "
              "features: batched vs per candidate (ms) | ranking a list: compiled trees, one pass vs LightGBM, two "
              "(ms) | index | recall@100 | build s | query: index vs exact NumPy "
              "p50 ms | previous run: deal p50 | previous run: RSS MiB, ready s (1 worker) |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, s in r["sizes"].items():
        ip, ix = s.get("inprocess", {}), s.get("index", {})
        f, rk = ip.get("features", {}), ip.get("ranking", {})
        h1, h2 = _get(s, "http", "1", "deals_loaded", "per_s"), _get(s, "http", "2", "deals_loaded", "per_s")
        before = _get(prev, "sizes", size, "http", "1", "deals_1_client", "p50_ms")
        now = _get(s, "http", "1", "deals_1_client", "p50_ms")
        rss_before = max((m.get("rss", 0) for m in _get(prev, "sizes", size, "http", "1", "memory_mib") or []),
                         default=None)
        rss_now = max((m.get("rss", 0) for m in _get(s, "http", "1", "memory_mib") or []), default=None)
        up_before, up_now = _get(prev, "sizes", size, "http", "1", "startup_s"), _get(s, "http", "1", "startup_s")
        lines.append(
            f"| {size} | {_f(_get(ip, 'deals', 'p50_ms'))} / {_f(_get(ip, 'deals', 'p99_ms'))} | "
            f"{_f(_get(ip, 'investors', 'p50_ms'))} / {_f(_get(ip, 'investors', 'p99_ms'))} | {_f(h1)} → {_f(h2)} "
            f"({_ratio(h2, h1)}) | {_f(f.get('batched_ms'), 2)} vs {_f(f.get('per_candidate_ms'))} "
            f"({_f(f.get('speedup'))}×, {f.get('candidates')} pairs) | "
            f"{_f(rk.get('compiled_ms'), 2)} vs {_f(rk.get('lightgbm_ms'), 2)} ({_f(rk.get('speedup'))}×) | "
            f"{ix.get('kind')} | "
            f"{_f(ix.get('recall_at_100'), 3)}{' ✓' if (ix.get('recall_at_100') or 0) >= 0.95 else ' ✗'} | "
            f"{_f(ix.get('build_s'))} | {_f(ix.get('approx_p50_ms'), 2)} vs {_f(ix.get('exact_numpy_p50_ms'), 2)} "
            f"({_f(ix.get('speedup'))}×) | {_f(before)} → {_f(now)} ({_ratio(now, before)}) | "
            f"{_f(rss_before, 0)} → {_f(rss_now, 0)}, {_f(up_before)} → {_f(up_now)} |")
    lines += ["", "**Market, ingestion and training**", "",
              "| size | funnel events | generate s | bulk load (COPY) rows/s | read + snapshot s | serving files: "
              "build s / peak MiB / on disk MiB | events/s single route | events/s batch route (100) | "
              "acknowledged = stored |", "|---|---|---|---|---|---|---|---|---|"]
    for size, s in r["sizes"].items():
        mk = s.get("market", {})
        ev = next((h.get("events") for h in s.get("http", {}).values() if h.get("events")), None) or {}
        sg, bt = ev.get("single", {}), ev.get("batch", {})
        durable = ev and sg.get("acknowledged") == sg.get("stored") and bt.get("acknowledged") == bt.get("stored")
        lines.append(f"| {size} | {_f(mk.get('funnel_events'))} | {_f(mk.get('generate_s'))} | "
                     f"{_f(mk.get('load_rows_per_s'))} | {_f(mk.get('read_snapshot_s'))} | "
                     f"{_files(s.get('serving_files'))} | {_f(sg.get('events_per_s'))} | "
                     f"{_f(bt.get('events_per_s'))}{' ✓' if (bt.get('events_per_s') or 0) >= 2000 else ' ✗'} | "
                     f"{'yes' if durable else 'NO' if ev else '–'} ({_f(bt.get('stored'))}) |")
    lines.append("")
    t = r.get("training")
    if t:
        phases = ", ".join(f"{k} {v:.0f}" for k, v in (t.get("phases") or {}).items() if v >= 1)
        lines.append(f"- **Retraining** on {_f(t['events'])} funnel events: **{_f(t['seconds'])} s**"
                     f"{' ✓' if t['seconds'] <= 180 else ' ✗ (target ≤ 180 s)'} ({phases}); holdout NDCG@10 "
                     f"{_f(t.get('primary'), 3)}; peak {_f(t.get('peak_rss_mb'), 0)} MiB.")
    b = r.get("bulk_import")
    if b:
        lines.append(f"- **Bulk import** (`capconnect import enterprises`, {_f(b['rows'])} rows): "
                     f"{_f(b['rows_per_s'], 0)} rows/s UTF-8, {_f(b['gb18030_rows_per_s'], 0)} rows/s GB18030"
                     f"{' ✓' if b['rows_per_s'] >= 2000 else ' ✗ (target ≥ 2,000)'}; baseline row-by-row INSERT "
                     f"{_f(b['baseline_rows_per_s'], 0)} rows/s ({_f(b['speedup'])}×); verified: {b['verified']}.")
    e = r.get("encoder")
    if e:
        lines.append(f"- **Encoder** ({e['texts']} profile texts): full build {_f(e['full_texts_per_s'])} texts/s; "
                     f"incremental re-embedding of {e['changed']} changed: {_f(e['incremental_seconds'])} s for the "
                     f"whole list ({_f(e['incremental_speedup'])}× faster than re-embedding all).")
    return "\n".join(lines) + "\n"


def write(r: dict[str, Any], folder: Path, *, readme: Path | None, previous: dict[str, Any] | None) -> str:
    """Write ``scale.json`` (the last run kept as ``scale.previous.json``), ``scale.md`` and the README section."""
    folder.mkdir(parents=True, exist_ok=True)
    if previous is not None:
        (folder / "scale.previous.json").write_text(json.dumps(previous, indent=1, ensure_ascii=False), "utf-8")
    (folder / "scale.json").write_text(json.dumps(r, indent=1, ensure_ascii=False, default=str), "utf-8")
    md = table(r, previous)
    (folder / "scale.md").write_text(md, "utf-8")
    if readme is not None and readme.exists():
        text = readme.read_text(encoding="utf-8")
        if START in text and END in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _m: f"{START}\n{md}{END}", text,
                          flags=re.S)
            readme.write_text(text, encoding="utf-8")
    return md
