"""The alert engine of a service process: generation after each market change, and webhook delivery.

**Where it runs, and why in the service.** The pairs a change creates are scored by the matcher that serves the
deal lists (the same market, model and scorer): the service already holds it, while ``capconnect worker`` would
need a second copy of the market and the encoder in memory (1.2 GB per copy at 100k enterprises) and its own
reload. So each service process starts an :class:`AlertEngine`; one of them (the holder of a PostgreSQL advisory
lock, :data:`store.alerts.ENGINE_LOCK`) generates and delivers, the others wait to take over. Neither ever runs in
a request: a request only commits its change.

**Within seconds.** Triggers (migration 0010) queue every change to a need or an enterprise in the writing
transaction, whatever wrote it (API, console, import, psql), and notify ``capconnect_alerts``. The engine wakes
on the notice (or every ``alert_poll_seconds``), reloads the market when the database changed
(:meth:`AppState.check_market`: only new profiles are embedded), runs :func:`matching.serving.alerts.new_alerts`
on the changed needs, applies disclosure to what each alert says (:func:`api.reasons.shown_reasons`, as for a
deal card) and, in one transaction, writes the alerts and deletes exactly the changes it processed (never an id
cursor: ids are drawn at insert, not at commit, so a long import commits ids below ones already processed).

**Delivery** (:mod:`api.webhooks`) runs in a thread of its own, so a slow receiver never delays generation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from api.deps import Principal
from api.reasons import shown_reasons
from api.state import AppState
from api.webhooks import Deliverer
from matching.domain import vocab
from matching.errors import MatchingError
from matching.rules.filters import Filters
from matching.serving.alerts import MANDATE, Alert, ListState, StandingQuery, changed_needs, new_alerts
from matching.serving.matcher import Matcher
from store import alerts as db

logger = logging.getLogger(__name__)


def standing_queries(conn: psycopg.Connection) -> list[StandingQuery]:
    """Every standing query, each investor's mandate before its saved searches (the order dedupes alerts)."""
    mandates, searches = db.standing_queries(conn)
    out = [StandingQuery(int(r["investor_id"]), MANDATE, top_n=int(r["top_n"]), min_score=r["min_score"],
                         revision=int(r["revision"] or 0)) for r in mandates]
    for r in searches:
        try:
            filters = Filters(**{k: tuple(v) if isinstance(v, list) else v for k, v in (r["filters"] or {}).items()})
        except (MatchingError, TypeError) as exc:  # validated when saved; a vocabulary change may break one
            logger.warning("saved search %s skipped: its filters no longer parse: %s", r["id"], exc)
            continue
        out.append(StandingQuery(int(r["investor_id"]), f"search:{r['id']}", filters, r["text"], int(r["top_n"]),
                                 r["min_score"]))
    out.sort(key=lambda q: (q.investor_id, q.key != MANDATE))
    return out


def alert_body(m: Matcher, alert: Alert, reasons: Sequence[Any]) -> dict[str, Any]:
    """What the investor is told: public facts of the enterprise and the need, the score, and the reasons as
    disclosure lets it read them (never a withheld figure, never a feature value)."""
    snap, it = m.snap, alert.item
    e = snap.enterprise_row[int(it.enterprise_id or 0)]
    n = snap.need_row[int(it.need_id or 0)]
    need = snap.need_record[n]
    sector = int(snap.ent_sector[e])
    return {
        "alert_id": None, "investor_id": it.investor_id, "query": alert.query, "score": round(it.score, 6),
        "rank": alert.rank, "model_version": m.model_version,
        "enterprise": {"id": it.enterprise_id, "name": snap.ent_name[e], "district": snap.ent_district[e],
                       "tier": vocab.TIERS.codes[int(snap.ent_tier[e])],
                       "industry": snap.sectors.names[sector] if sector >= 0 else None},
        "need": {"id": it.need_id, "ref": need.ref, "instrument": need.instrument, "amount": need.amount,
                 "currency": need.currency, "round": need.round,
                 "closes_on": need.closes_on.isoformat() if need.closes_on else None},
        "reasons": [{"code": r.code, "zh": r.zh, "en": r.en, "kind": r.kind, "weight": r.weight} for r in reasons],
        "created_at": datetime.now(UTC).isoformat(),
    }


class AlertEngine:
    """Generation (a thread woken by the change queue's notices) and delivery (:class:`api.webhooks.Deliverer`).

    Args:
        state: the service's state (its matcher, pool and settings).
    """

    def __init__(self, state: AppState) -> None:
        self.state = state
        s = state.settings
        self.poll_seconds = s.alert_poll_seconds
        self.list_state = ListState()
        self.leader = threading.Event()
        self.deliverer = Deliverer(state.pool, s, self.leader)
        self._stop = threading.Event()
        self._lock = threading.Lock()  # run_once from a test and the thread never overlap
        self._thread = threading.Thread(target=self._run, name="alert-engine", daemon=True)
        self._started = False  # the change queue was started (db.start_queue) on this engine's connection
        self.generated = 0

    def start(self) -> AlertEngine:
        """Start generation and delivery."""
        self._thread.start()
        self.deliverer.start()
        return self

    def stop(self) -> None:
        """Stop both threads (at most one poll)."""
        self._stop.set()
        self.deliverer.stop()
        self._thread.join(timeout=self.poll_seconds + 30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.state.database_url, autocommit=True) as conn:
                    self._lead(conn)
            except psycopg.Error as exc:
                logger.warning("alert engine: database unavailable (%s: %s); retrying", type(exc).__name__, exc)
            finally:
                self.leader.clear()
            self._stop.wait(self.poll_seconds)

    def _lead(self, conn: psycopg.Connection) -> None:
        while not self._stop.is_set():
            if db.try_lead(conn):
                break
            self._stop.wait(self.poll_seconds)  # another process generates; take over when it stops
        else:
            return
        self.leader.set()
        with self._lock:
            db.start_queue(conn)
            self._started = True
        while not self._stop.is_set():
            try:
                self.run_once(conn)
            except psycopg.Error:
                raise
            except Exception:  # a batch that fails is retried at the next wake-up; the thread lives on
                logger.exception("alert engine: generation failed; retrying at the next change")
            for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                pass

    def run_once(self, conn: psycopg.Connection) -> int:
        """Process the queued changes now; returns how many alerts were written."""
        with self._lock:
            if not self._started:
                db.start_queue(conn)
                self._started = True
            written = 0
            while changes := db.pending_changes(conn):
                written += self._batch(conn, changes)
            self.generated += written
        if written:
            self.deliverer.wake()
        return written

    def _batch(self, conn: psycopg.Connection, changes: list[dict[str, Any]]) -> int:
        t0 = time.perf_counter()
        state = self.state
        state.check_market()  # the change is in the database: serve (and score) the market that holds it
        m = state.matcher
        need_ids = [int(c["entity_id"]) for c in changes if c["kind"] == "need"]
        ent_ids = [int(c["entity_id"]) for c in changes if c["kind"] == "enterprise"]
        missing = [n for n in need_ids if n not in m.snap.need_row] + [e for e in ent_ids
                                                                        if e not in m.snap.enterprise_row]
        if missing and state.rebuild is not None and db.missing_records(conn, need_ids, ent_ids) != set(missing):
            raise RuntimeError(f"the market does not hold changed records {missing[:5]} yet; retrying")
        rows = changed_needs(m, need_ids, ent_ids)
        alerts: list[Alert] = []
        try:  # new_alerts pushes the alerts into the list state before they commit: a failed batch forgets it all
            if len(rows):
                ents = sorted({int(m.snap.ent_id[m.snap.need_ent[r]]) for r in rows})
                alerts = new_alerts(m, standing_queries(conn), rows, state=self.list_state,
                                    dismissed=db.dismissed_pairs(conn, ents), sent=db.sent_keys(conn, ents))
            records = self._records(m, alerts)
            with conn.transaction():
                ids = db.insert_alerts(conn, records)
                db.mark_processed(conn, [int(c["id"]) for c in changes])
        except BaseException:
            self.list_state.clear()  # rebuilt exactly from the database at the retry
            raise
        logger.info("alerts: %d changes (%d needs), %d alerts written in %.0f ms", len(changes), len(rows), len(ids),
                    (time.perf_counter() - t0) * 1000)
        return len(ids)

    def _records(self, m: Matcher, alerts: list[Alert]) -> list[dict[str, Any]]:
        """The outbox rows: each investor's alerts with their reasons as that investor may read them."""
        by_investor: dict[int, list[Alert]] = {}
        for a in alerts:
            by_investor.setdefault(int(a.item.investor_id or 0), []).append(a)
        out = []
        for investor_id, mine in by_investor.items():
            who = Principal(key_id=0, key_shown="alert-engine", role="investor", investor_id=investor_id)
            shown = shown_reasons(self.state.pool, m, who, [a.item for a in mine], "investor")
            for a, reasons in zip(mine, shown, strict=True):
                body = alert_body(m, a, reasons)
                out.append({"investor_id": investor_id, "enterprise_id": a.item.enterprise_id,
                            "need_id": a.item.need_id, "query": a.query, "score": a.item.score,
                            "reasons": body["reasons"], "body": body, "model_version": m.model_version})
        return out
