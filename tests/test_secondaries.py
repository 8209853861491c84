"""Secondary listings for S funds: the hard rules on old shares and fund interests."""

from __future__ import annotations

from datetime import UTC, datetime

from matching.domain.credit_code import make_credit_code
from matching.domain.records import Enterprise, Investor, Mandate, Secondary
from matching.serving.secondaries import eligible_secondaries
from matching.snapshot.core import build_snapshot


def _ent(i: int, **kw) -> Enterprise:  # type: ignore[no-untyped-def]
    return Enterprise(name=f"重庆老股{i}号有限公司", credit_code=make_credit_code("9", "1", "500112", f"MA7{i:06d}"),
                      district_code="500112", industry_code="ai", **kw)


def test_old_shares_follow_mandate_tiers_boards_activity_and_exclusions() -> None:
    ents = [_ent(0, tier="select", boards=["srdi"]), _ent(1, tier="basic", boards=["srdi"]),
            _ent(2, tier="select", boards=[]), _ent(3, tier="select", boards=["srdi"], status="inactive"),
            _ent(4, tier="select", boards=["srdi"], excluded_investor_types=["s_fund"])]
    s_fund = Investor(name="渝S二级基金", investor_type="s_fund", external_id="s1")
    seller = Investor(name="退出期基金", investor_type="vc", external_id="v1", status="exiting")
    mandate = Mandate(investor_key=s_fund.key, valid_from=datetime(2024, 1, 1, tzinfo=UTC), tiers=["select"],
                      boards=["srdi"], instruments=["old_shares"], ticket_min=1e6, ticket_max=1e8)
    listings = [Secondary(ref=f"L{i}", kind="old_shares", seller_name="退出期基金", seller_investor_key=seller.key,
                          enterprise_key=e.key, asking_price=2e7, nav=2.5e7) for i, e in enumerate(ents)]
    listings.append(Secondary(ref="L9", kind="fund_interest", seller_name="退出期基金", fund_name="某成长基金",
                              seller_investor_key=s_fund.key, asking_price=2e7, nav=2.2e7))  # its own listing
    listings.append(Secondary(ref="L10", kind="old_shares", seller_name="x", enterprise_key=ents[0].key,
                              asking_price=5e8, nav=6e8))  # above the ticket range
    snap = build_snapshot(ents, [s_fund, seller], [mandate], secondaries=listings,
                          as_of=datetime(2024, 6, 1, tzinfo=UTC))
    ok = eligible_secondaries(snap, snap.inv_key_row[s_fund.key], tolerance=0.2)
    assert [snap.sec_record[i].ref for i in range(len(listings)) if ok[i]] == ["L0"]
    assert not eligible_secondaries(snap, snap.inv_key_row[seller.key], tolerance=0.2).any()  # not an S fund
