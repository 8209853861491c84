"""Alerts' SQL (migration 0010, store/alerts.py, store/webhooks.py) on a real database: the change triggers, the
outbox's once-only rule, read marks, and the delivery schedule (claimed once, retried, given up)."""

from __future__ import annotations

from typing import Any

import psycopg

from matching.synth.generator import generate_market
from store import alerts as sa
from store import webhooks as hooks
from store.batch import MarketBatch, save_batch
from store.database import Database


def _market(database: Database) -> psycopg.Connection:
    m = generate_market(30, 8, 2, seed=4)
    save_batch(database, MarketBatch(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events))
    return psycopg.connect(database.url, autocommit=True)


def _changes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return [(c["kind"], c["reason"]) for c in sa.pending_changes(conn)]


def test_triggers_queue_every_change_that_matters(db: Database) -> None:
    with _market(db) as conn:
        created = set(_changes(conn))
        assert created == {("enterprise", "enterprise_created"), ("need", "need_created")}
        sa.start_queue(conn)
        assert _changes(conn) == []  # the first engine drops what was queued before it: the market is not news
        ent = conn.execute("SELECT id FROM enterprises WHERE tier = 'basic' ORDER BY id LIMIT 1").fetchone()[0]
        need = conn.execute("SELECT id FROM financing_needs ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE enterprises SET updated_at = now() WHERE id = %s", (ent,))  # nothing the matcher reads
        conn.execute("UPDATE financing_needs SET use_of_funds = 'x' WHERE id = %s", (need,))
        assert _changes(conn) == []
        conn.execute("UPDATE enterprises SET tier = 'growth' WHERE id = %s", (ent,))
        conn.execute("UPDATE enterprises SET description = description || '。' WHERE id = %s", (ent,))
        conn.execute("UPDATE financing_needs SET amount = amount + 1 WHERE id = %s", (need,))
        assert _changes(conn) == [("enterprise", "tier_up"), ("enterprise", "profile_changed"),
                                  ("need", "need_changed")]
        sa.start_queue(conn)  # a later engine keeps what is queued
        ids = [c["id"] for c in sa.pending_changes(conn)]
        sa.mark_processed(conn, ids[:2])
        assert [c["id"] for c in sa.pending_changes(conn)] == ids[2:]
        sa.mark_processed(conn, ids[2:])
        assert sa.pending_changes(conn) == []


def test_a_change_committed_after_a_later_one_was_processed_is_still_read(db: Database) -> None:
    """Ids are drawn at insert, not at commit: a long import holds a lower id while an API write commits a higher
    one, which the engine processes; the import's change must still be read when it commits."""
    with _market(db) as conn, psycopg.connect(db.url) as importer:
        sa.start_queue(conn)
        first, second = [r[0] for r in conn.execute("SELECT id FROM financing_needs ORDER BY id LIMIT 2")]
        importer.execute("UPDATE financing_needs SET amount = amount + 1 WHERE id = %s", (first,))  # not committed
        conn.execute("UPDATE financing_needs SET amount = amount + 1 WHERE id = %s", (second,))
        (late,) = sa.pending_changes(conn)  # only the committed change is visible
        assert late["entity_id"] == second
        with conn.transaction():
            sa.mark_processed(conn, [late["id"]])
        importer.commit()
        (early,) = sa.pending_changes(conn)
        assert early["entity_id"] == first and early["id"] < late["id"]


def _alert(inv: int, ent: int, need: int, query: str = "mandate") -> dict[str, Any]:
    return {"investor_id": inv, "enterprise_id": ent, "need_id": need, "query": query, "score": 0.5, "reasons": [],
            "body": {"alert_id": None, "x": 1}, "model_version": "m"}


def test_the_outbox_never_holds_a_pair_and_need_twice_and_counts_unread(db: Database) -> None:
    with _market(db) as conn:
        inv = conn.execute("SELECT id FROM investors ORDER BY id LIMIT 1").fetchone()[0]
        ent, need = conn.execute("SELECT enterprise_id, id FROM financing_needs ORDER BY id LIMIT 1").fetchone()
        ids = sa.insert_alerts(conn, [_alert(inv, ent, need), _alert(inv, ent, need, "search:1")])
        assert len(ids) == 1  # the second query found the same pair and need: skipped
        assert sa.insert_alerts(conn, [_alert(inv, ent, need)]) == []
        items, total, unread = sa.list_alerts(conn, inv, limit=10, offset=0)
        assert (total, unread) == (1, 1) and items[0]["body"]["alert_id"] == ids[0]
        assert sa.unknown_alerts(conn, inv + 1, ids) == ids
        assert sa.mark_read(conn, inv, ids) == 1 and sa.mark_read(conn, inv, None) == 0
        assert sa.list_alerts(conn, inv, limit=10, offset=0, unread_only=True)[1:] == (0, 0)


def test_delivery_is_claimed_once_retried_and_given_up(db: Database) -> None:
    with _market(db) as conn:
        inv = conn.execute("SELECT id FROM investors ORDER BY id LIMIT 1").fetchone()[0]
        ent, need = conn.execute("SELECT enterprise_id, id FROM financing_needs ORDER BY id LIMIT 1").fetchone()
        (alert_id,) = sa.insert_alerts(conn, [_alert(inv, ent, need)])
        assert hooks.claim_due(conn, "alert", hold_seconds=60) == []  # no webhook: nothing to post
        hooks.put_webhook(conn, inv, "http://127.0.0.1:9/x", "s" * 40)
        (row,) = hooks.claim_due(conn, "alert", hold_seconds=60)
        assert (row["id"], row["attempt"], row["secret"]) == (alert_id, 1, "s" * 40)
        assert hooks.claim_due(conn, "alert", hold_seconds=60) == []  # held while its outcome is unknown
        hooks.record_attempt(conn, "alert", row, notification_id=f"alert-{alert_id}", status_code=500, error=None,
                             delivered=False, retry_in=0)
        (again,) = hooks.claim_due(conn, "alert", hold_seconds=60)
        assert again["attempt"] == 2
        hooks.record_attempt(conn, "alert", again, notification_id=f"alert-{alert_id}", status_code=None,
                             error="ConnectError", delivered=False, retry_in=None)  # the last attempt: given up
        assert hooks.claim_due(conn, "alert", hold_seconds=60) == []
        log, total = hooks.deliveries(conn, inv, limit=10, offset=0)
        assert total == 2 and [(d["attempt"], d["status_code"], d["delivered"]) for d in reversed(log)] == [
            (1, 500, False), (2, None, False)]
        assert sa.list_alerts(conn, inv, limit=1, offset=0)[0][0]["failed_at"] is not None
