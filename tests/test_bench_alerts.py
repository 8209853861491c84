"""The alerts benchmark runs end to end on a tiny market and reports every figure (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.alerts import main


def test_the_alerts_benchmark_runs_and_reports(tmp_path: Path) -> None:
    r = main(["--shapes", "60x400", "--needs", "20", "--months", "4", "--out", str(tmp_path)])
    (size,) = r["sizes"]
    assert size["investors"] == 60 and size["new_needs"] == 20
    assert size["incremental"]["needs"] == 20 and size["incremental"]["p50_ms"] > 0
    assert size["baseline_rerank_all"]["measured"] == "in full" and size["baseline_rerank_all"]["per_need_ms"] > 0
    assert size["state_build"]["seconds"] >= 0 and size["peak_rss_gib"] > 0
    assert json.loads((tmp_path / "alerts.json").read_text(encoding="utf-8")) == r
    assert "| 60 × 400 |" in (tmp_path / "alerts.md").read_text(encoding="utf-8")
