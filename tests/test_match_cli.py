"""`capconnect match`: explained lists from a market stored in PostgreSQL, with the real encoder."""

from __future__ import annotations

import re


def test_deal_list_from_the_database_respects_the_mandate(cli_with_encoder, db) -> None:
    cli = cli_with_encoder
    assert cli("generate", "-e", "150", "-i", "20", "-m", "3", "-s", "2").exit_code == 0
    with db.connect() as conn:
        vc, instruments = conn.execute(
            "SELECT i.id, m.instruments FROM investors i "
            "JOIN mandates m ON m.investor_id = i.id AND m.valid_to IS NULL "
            "WHERE i.investor_type = 'vc' AND i.status <> 'inactive' AND cardinality(m.sectors) > 0 "
            "ORDER BY i.id LIMIT 1").fetchone()
        non_s_fund = vc
    result = cli("match", "deals", str(vc), "-k", "5")
    assert result.exit_code == 0, result.stderr
    items = re.findall(r"^\s+(\d+)\. (.+?) · (\w+) ([\d.,]+(?:万|亿)?元) · score", result.stdout, re.M)
    assert items and [int(i[0]) for i in items] == list(range(1, len(items) + 1))
    allowed = set(instruments) or {"equity"}  # an empty list means equity only
    assert {instrument for _, _, instrument, _ in items} <= allowed
    assert result.stdout.count("单笔投资区间") == len(items)  # every item states its ticket fact
    again = cli("match", "deals", str(vc), "-k", "5", "--lang", "en")
    assert again.exit_code == 0 and again.stdout.count("ticket range") == len(items)
    wrong = cli("match", "secondaries", str(non_s_fund))
    assert wrong.exit_code == 1 and "secondary listings are for S funds" in wrong.stderr
    missing = cli("match", "deals", "999999")
    assert missing.exit_code == 1 and "999999" in missing.stderr
