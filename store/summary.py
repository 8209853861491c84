"""Counts that describe a market at a glance (used by ``capconnect demo`` and reports)."""

from __future__ import annotations

import psycopg

_QUERIES: dict[str, str] = {
    "总量 totals": """
        SELECT label, n FROM (VALUES
          ('企业 enterprises', (SELECT count(*) FROM enterprises)),
          ('投资方 investors', (SELECT count(*) FROM investors)),
          ('投资策略版本 mandate versions', (SELECT count(*) FROM mandates)),
          ('融资需求 financing needs', (SELECT count(*) FROM financing_needs)),
          ('S基金份额/老股 secondary listings', (SELECT count(*) FROM secondary_listings)),
          ('漏斗事件 funnel events', (SELECT count(*) FROM funnel_events))) AS t(label, n)""",
    "企业层级 enterprises by tier": "SELECT tier, count(*) FROM enterprises GROUP BY 1 ORDER BY 2 DESC",
    "投资方类型 investors by type": "SELECT investor_type, count(*) FROM investors GROUP BY 1 ORDER BY 2 DESC",
    "融资工具 needs by instrument": "SELECT instrument, count(*) FROM financing_needs GROUP BY 1 ORDER BY 2 DESC",
    "漏斗 events by type": "SELECT event_type, count(*) FROM funnel_events GROUP BY 1 ORDER BY 2 DESC",
    "区县 top districts": """
        SELECT d.name_zh, count(*) FROM enterprises e JOIN districts d ON d.code = e.district_code
        GROUP BY 1 ORDER BY 2 DESC LIMIT 10""",
}


def market_summary(conn: psycopg.Connection) -> dict[str, list[tuple[str, int]]]:
    """Title → (label, count) rows."""
    return {title: [(str(a), int(b)) for a, b in conn.execute(sql).fetchall()] for title, sql in _QUERIES.items()}
