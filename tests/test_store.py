"""Bulk loading into a real PostgreSQL: upserts by natural key, idempotence, reference checks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from matching.domain.credit_code import make_credit_code
from matching.domain.records import Enterprise, Event, Financials, Investor, Mandate, Need, Secondary
from store.batch import MarketBatch, save_batch
from store.exports import fetch


def _ent(i: int, **kw) -> Enterprise:
    code = make_credit_code("9", "1", "500103", f"MA5U{i:05d}")
    return Enterprise(name=f"重庆测试{i}号科技有限公司", credit_code=code,
                      district_code="500103", industry_code="ai", tier="growth", boards=["srdi"],
                      financials=[Financials(year=2024, revenue=1.5e7, rd_ratio=0.12)], **kw)


def _batch() -> MarketBatch:
    ents = [_ent(i) for i in range(3)]
    inv = Investor(name="渝创一号基金", investor_type="vc", external_id="vc1", amac_code="P1000001")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    mandates = [Mandate(investor_key=inv.key, version=1, valid_from=t0, sectors=["ai"], ticket_min=1e6, ticket_max=5e7),
                Mandate(investor_key=inv.key, version=2, valid_from=datetime(2024, 6, 1, tzinfo=UTC),
                        sectors=["ai", "software"], ticket_min=2e6, ticket_max=8e7)]
    needs = [Need(ref="N1", enterprise_key=ents[0].key, instrument="equity", amount=3e7, round="a",
                  opened_on=date(2024, 2, 1))]
    secs = [Secondary(ref="S1", kind="old_shares", seller_name="某早期股东", enterprise_key=ents[1].key,
                      asking_price=8e6, nav=1e7)]
    events = [Event(event_key="ev1", investor_key=inv.key, enterprise_key=ents[0].key, event_type="viewed",
                    occurred_at=datetime(2024, 3, 1, tzinfo=UTC), need_ref="N1"),
              Event(event_key="ev2", investor_key=inv.key, enterprise_key=ents[0].key, event_type="meeting",
                    occurred_at=datetime(2024, 3, 9, tzinfo=UTC), need_ref="N1")]
    return MarketBatch(ents, [inv], mandates, needs, secs, events)


def test_load_twice_changes_nothing(db) -> None:
    first = {c.table: c.as_dict() for c in save_batch(db, _batch())}
    assert first["enterprises"]["inserted"] == 3 and first["funnel_events"]["inserted"] == 2
    with db.connect() as conn:
        before = conn.execute("SELECT max(updated_at) FROM enterprises").fetchone()[0]
    second = {c.table: c.as_dict() for c in save_batch(db, _batch())}
    for table, counts in second.items():
        assert counts["inserted"] == 0 and counts["updated"] == 0, (table, counts)
    with db.connect() as conn:
        assert conn.execute("SELECT max(updated_at) FROM enterprises").fetchone()[0] == before
        assert conn.execute("SELECT count(*) FROM funnel_events").fetchone()[0] == 2


def test_changed_value_updates_one_row(db) -> None:
    save_batch(db, _batch())
    batch = _batch()
    batch.enterprises[1].description = "新增的企业简介：工业视觉检测"
    counts = {c.table: c.as_dict() for c in save_batch(db, batch)}
    assert counts["enterprises"] == {"received": 3, "inserted": 0, "updated": 1, "unchanged": 2, "unresolved": 0}


def test_mandate_versions_chain_validity(db) -> None:
    save_batch(db, _batch())
    with db.connect() as conn:
        rows = conn.execute("SELECT version, valid_from, valid_to FROM mandates ORDER BY version").fetchall()
    assert rows[0][2] == rows[1][1] and rows[1][2] is None


def test_unresolved_reference_writes_nothing(db) -> None:
    batch = _batch()
    batch.needs = [Need(ref="N9", enterprise_key="91500103MA5U99999X", instrument="equity", amount=1e6)]
    with pytest.raises(ValueError, match="no enterprise with this credit code"):
        save_batch(db, batch)
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM enterprises").fetchone()[0] == 0  # atomic


def test_export_reads_back_what_was_loaded(db) -> None:
    save_batch(db, _batch())
    with db.connect() as conn:
        cols, rows = fetch(conn, "enterprises")
        assert rows[0]["boards"] == "srdi" and rows[0]["revenue"] == "15000000"
        _, ev = fetch(conn, "events")
    assert [r["event_type"] for r in ev] == ["viewed", "meeting"] and ev[0]["need_ref"] == "N1"
