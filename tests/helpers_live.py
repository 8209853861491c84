"""A generated market in a database of its own, and investor keys, for the live-server tests."""

from __future__ import annotations

import psycopg

from bench.live_server import Party
from matching.synth.generator import generate_market
from store import keys as keys_db
from store.batch import MarketBatch, save_batch
from store.database import Database


def load_market(url: str, enterprises: int = 200, investors: int = 40, seed: int = 5) -> None:
    """Save a generated market (10 months of history) into a migrated database."""
    m = generate_market(enterprises, investors, 10, seed=seed)
    save_batch(Database(url=url), MarketBatch(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events))


def investor_parties(url: str, n: int = 8) -> list[Party]:
    """Keys for ``n`` active VC/PE investors with a current mandate."""
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT i.id FROM investors i JOIN mandates d ON d.investor_id = i.id AND d.valid_to IS NULL "
            "WHERE i.investor_type IN ('vc', 'pe') AND i.status <> 'inactive' ORDER BY i.id LIMIT %s", (n,))]
        return [Party(keys_db.create_key(conn, role="investor", investor_id=i, label="load").secret, i) for i in ids]
