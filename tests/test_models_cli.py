"""`capconnect train`, `evaluate` and `models list|show|promote|rollback|verify` end to end, with the
real encoder, on a small generated market in PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path


def test_train_promote_refuse_force_rollback(cli_with_encoder, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = cli_with_encoder
    assert cli("generate", "-e", "180", "-i", "30", "-m", "8", "-s", "5").exit_code == 0
    first = cli("train", "--seed", "1", "--version", "c1")
    assert first.exit_code == 0, first.stderr
    out = first.stdout
    assert "investor direction, all" in out and "enterprise direction, all" in out
    for scorer in ("model", "two_sided", "random", "popularity", "rules", "affinity", "similarity"):
        assert f"│ {scorer}" in out, scorer
    assert "next: `capconnect models promote c1`" in out
    assert (tmp_path / "models" / "c1" / "report.md").is_file()

    listed = cli("models", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["status"]) for r in rows] == [("c1", "candidate")]

    promoted = cli("models", "promote", "c1")
    assert "promoted c1 (was none" in promoted.stdout, promoted.stderr
    second = cli("train", "--seed", "1", "--version", "c2")
    assert second.exit_code == 0
    refused = cli("models", "promote", "c2")
    assert refused.exit_code == 1
    assert "version c2 does not beat the active version c1 on the holdout window" in refused.stderr
    assert "promoted c2 (was c1" in cli("models", "promote", "c2", "--force").stdout
    assert "active c1 (was c2)" in cli("models", "rollback").stdout
    shown = cli("models", "show", "c2")
    assert shown.exit_code == 0 and "c2 retired" in shown.stdout and "cold_start" in shown.stdout
    evaluated = cli("evaluate", "c2")
    assert evaluated.exit_code == 0, evaluated.stderr
    assert "primary (mean NDCG@10): c2" in evaluated.stdout and " c1 " in evaluated.stdout
    assert "every file matches the manifest" in cli("models", "verify", "c1").stdout
    missing = cli("models", "promote", "nope")
    assert missing.exit_code == 1 and "no model version 'nope'" in missing.stderr
    with db.connect() as conn:
        assert conn.execute("SELECT version FROM model_versions WHERE status = 'active'").fetchall() == [("c1",)]
