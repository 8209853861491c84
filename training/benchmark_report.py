"""The real-data benchmark's report in Markdown, written into README between markers by the command.

``capconnect benchmark crunchbase … --readme README.md`` replaces the text between
:data:`START` and :data:`END` with :func:`markdown` of the run, so every figure there comes from a
command in the repository (with the configuration hash and the data's attribution).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from matching.learning.evaluation import BASELINES, SUBSETS

START, END = "<!-- bench:crunchbase:start -->", "<!-- bench:crunchbase:end -->"
COLUMNS: tuple[tuple[str, str], ...] = (("recall@10", "R@10"), ("recall@20", "R@20"), ("recall@50", "R@50"),
                                        ("recall@100", "R@100"), ("mrr", "MRR"), ("auc", "AUC"))
SUBSET_LABEL = {"all": "all pairs", "new_pairs": "new pairs", "follow_on": "follow-ons",
                "cold_start": "cold-start companies"}


def _f(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def _table(direction: dict[str, Any], subset: str) -> list[str]:
    rows = direction["metrics"].get(subset) or {}
    served = direction["served_scorer"]
    names = [served] + [n for n in ("model", "two_sided", *BASELINES) if n in rows and n != served]
    lines = ["| scorer | NDCG@10 [95% CI] | " + " | ".join(h for _, h in COLUMNS) + " | queries |",
             "|---|---|" + "---:|" * (len(COLUMNS) + 1)]
    for n in names:
        m = rows.get(n)
        if not m:
            continue
        lo, hi = (m.get("ci95") or {}).get("ndcg@10", [None, None])
        label = f"**{n} (served)**" if n == served else n
        lines.append(f"| {label} | {_f(m['ndcg@10'])} [{_f(lo)}, {_f(hi)}] | "
                     + " | ".join(_f(m.get(k)) for k, _ in COLUMNS) + f" | {m['queries']:,} |")
    p = direction.get("paired_vs_best_baseline", {}).get(subset)
    if p:
        lines += ["", f"Served − best baseline ({p['best_baseline']}), paired bootstrap over queries: "
                      f"{p['diff']:+.3f} [{p['lo']:+.3f}, {p['hi']:+.3f}]."]
    return lines


def markdown(report: dict[str, Any], *, tables: bool = True) -> str:
    """The whole benchmark section: every cut, direction and subset (``tables``), buckets, ablations, how
    it was made."""
    out = [f"Produced by `capconnect benchmark crunchbase ../shared/data/crunchbase-2013 --readme README.md` "
           f"(configuration `{report['config_hash']}`, encoder `{report.get('encoder_id')}`; "
           f"{report['timings']['total']:.0f} s in all, embedding {report['timings']['embedding']:.0f} s).", ""]
    for name, cut in report["cuts"].items():
        c = cut["cut"]
        n = cut["counts"]
        out += [f"### {name.capitalize()} cut: train < {c['train_before']}, window {c['window_start']} … "
                f"{c['window_end_exclusive']} (exclusive)", "",
                f"{n['eligible_investors']:,} investors with ≥ {n['min_portfolio']} portfolio companies; "
                f"{n['enterprise_queries']:,} companies with a deal ({n['cold_enterprise_queries']:,} never funded "
                f"before); {n['positive_pairs_enterprise_direction']:,} positive pairs, "
                f"{n['positive_pairs_follow_on']:,} of them follow-ons.", ""]
        for dname, d in (cut["directions"] if tables else {}).items():
            ch = d["choice"]
            out += [f"#### {dname.replace('_to_', ' → ')}: serves `{d['served_scorer']}`", "",
                    f"Chosen on the validation window before the cut: {ch['why']}.", ""]
            for sub in SUBSETS:
                if d["metrics"].get(sub):
                    out += [f"*{SUBSET_LABEL[sub]}*", "", *_table(d, sub), ""]
            b = d.get("buckets") or {}
            labels = [k for k in b if k != "by"]
            if labels:
                scorers = [s for s in b[labels[0]] if s != "queries"]
                out += [f"NDCG@10 by {b['by']} (all pairs):", ""]
                out += ["| bucket | " + " | ".join(scorers) + " | queries |", "|---|" + "---:|" * (len(scorers) + 1)]
                out += [f"| {k} | " + " | ".join(_f(b[k][s]) for s in scorers) + f" | {b[k]['queries']:,} |"
                        for k in labels]
                out.append("")
        if cut.get("ablations"):
            out += [f"Ablations ({name} cut, NDCG@10 of the retrained model / of what would serve):", "",
                    "| ablation | direction | " + " | ".join(SUBSET_LABEL[s] for s in SUBSETS) + " |",
                    "|---|---|" + "---:|" * len(SUBSETS)]
            for ab, dirs in cut["ablations"].items():
                for dname, subs in dirs.items():
                    out.append(f"| {ab} | {dname.replace('_to_', ' → ')} | " + " | ".join(
                        f"{_f(subs[s]['model'])} / {_f(subs[s]['served'])}" if s in subs else "–" for s in SUBSETS)
                        + " |")
            out.append("")
    if report.get("attribution"):
        out += [report["attribution"], ""]
    return "\n".join(out)


def write_readme(report: dict[str, Any], readme: Path, section: str = "crunchbase") -> None:
    """Replace the section ``bench:<section>`` of ``readme`` with :func:`markdown` of ``report``."""
    replace_section(readme, f"<!-- bench:{section}:start -->", f"<!-- bench:{section}:end -->",
                    markdown(report, tables=not report.get("ablations")))


def replace_section(readme: Path, start: str, end: str, md: str) -> None:
    """Replace the text between the markers ``start`` and ``end`` of ``readme`` (appended when missing)."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = f"{start}\n{md.rstrip()}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")
