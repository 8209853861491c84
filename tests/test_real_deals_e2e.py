"""Real deals end to end: import a slice of the CrunchBase export, `capconnect train`, promote, and ask the
service over HTTP for a real investor's deal list and a real company's investor list, ranked by the
model version that was trained (the one pipeline: what the benchmark measures is what serves)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from matching.config import get_settings
from matching.ingest.crunchbase import read_crunchbase
from matching.learning.benchmark.thin import thin_events
from store import keys as keys_db
from store.batch import MarketBatch, save_batch

CRUNCHBASE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crunchbase-2013"


@pytest.mark.skipif(not CRUNCHBASE.exists(), reason="the shared CrunchBase export is not beside the checkout")
def test_imported_deals_train_promote_and_serve(cli_with_encoder, db, encoder) -> None:  # type: ignore[no-untyped-def]
    cli = cli_with_encoder
    parsed = thin_events(read_crunchbase(CRUNCHBASE), since=date(2012, 1, 1), max_investors=60)
    save_batch(db, MarketBatch(enterprises=parsed.enterprises, investors=parsed.investors, events=parsed.events))
    trained = cli("train", "--seed", "0", "--version", "cb1")
    assert trained.exit_code == 0, trained.stderr
    shown = json.loads(cli("models", "show", "cb1", "--json").stdout)
    served = shown["manifest"]["served"]
    assert set(served) == {"investor", "enterprise"} and all(c["why"].startswith("validation NDCG@10") for c in
                                                            served.values())
    promoted = cli("models", "promote", "cb1")
    assert promoted.exit_code == 0, promoted.stderr
    settings = get_settings()
    with db.connect(autocommit=True) as conn:
        inv_id, inv_name = conn.execute(  # the most active investor of the slice
            "SELECT i.id, i.name FROM investors i JOIN funnel_events f ON f.investor_id = i.id "
            "GROUP BY i.id ORDER BY count(*) DESC, i.id LIMIT 1").fetchone()
        ent_id = conn.execute(
            "SELECT enterprise_id FROM funnel_events GROUP BY enterprise_id ORDER BY count(*) DESC, enterprise_id "
            "LIMIT 1").fetchone()[0]
        inv_key = keys_db.create_key(conn, role="investor", investor_id=inv_id, label="e2e").secret
        ent_key = keys_db.create_key(conn, role="enterprise", enterprise_id=ent_id, label="e2e").secret
    with TestClient(create_app(settings, encoder=encoder)) as client:
        deals = client.get(f"/v1/investors/{inv_id}/deals", params={"k": 10}, headers={"X-API-Key": inv_key})
        assert deals.status_code == 200, deals.text
        body = deals.json()
        assert body["model_version"] == "cb1" and len(body["items"]) == 10
        assert all(it["need"] is None and it["reasons"] for it in body["items"])
        scores = [it["score"] for it in body["items"]]
        assert scores == sorted(scores, reverse=True) or "exploration" in json.dumps(body)
        investors = client.get(f"/v1/enterprises/{ent_id}/investors", params={"k": 10},
                               headers={"X-API-Key": ent_key})
        assert investors.status_code == 200, investors.text
        listed = investors.json()
        assert listed["model_version"] == "cb1" and len(listed["items"]) == 10
        assert inv_name  # a real name came back from the import
