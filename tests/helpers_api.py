"""A running API over a small generated market, for the ``test_api_*`` modules.

:func:`api_service` creates a database from the session's migrated template, loads a generated
market (500 enterprises, 70 investors, 10 months: enough history to train a model in seconds),
starts the app through its real lifespan (pool, snapshot, matcher, poller) with the hashing test
encoder, and creates one key per role. Each test module starts its own (about a second).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from conftest import TEMPLATE, _with_db
from fastapi.testclient import TestClient
from helpers_encoder import HashingEncoder

from api.app import create_app
from api.state import AppState
from matching.config import Settings
from matching.synth.generator import generate_market
from store import keys as keys_db
from store.batch import MarketBatch, save_batch
from store.database import Database

MARKET = (500, 70, 10, 3)  # enterprises, investors, months, seed


@dataclass
class ApiEnv:
    """The service under test: its client, state, database, ids and one key per role."""

    client: TestClient
    db: Database
    settings: Settings
    ids: dict[str, int]
    keys: dict[str, str]
    encoder: HashingEncoder
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> AppState:
        """The live app state."""
        return self.client.app.state.capconnect  # type: ignore[attr-defined]

    def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        """GET with the named key (``None``: no key)."""
        return self.client.get(path, params=params, headers=self.auth(key))

    def post(self, path: str, key: str | None, body: Any = None) -> httpx.Response:
        """POST JSON with the named key."""
        return self.client.post(path, json=body, headers=self.auth(key))

    def auth(self, key: str | None) -> dict[str, str]:
        """The Authorization header of a named key."""
        return {"Authorization": f"Bearer {self.keys[key]}"} if key else {}

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of a query on the service's database."""
        with self.db.connect(autocommit=True) as conn:
            return conn.execute(query, params).fetchall()


def _one(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None, query
    return int(row[0])


@contextmanager
def api_service(pg_admin_url: str, root: Path, *, encoder: HashingEncoder | None = None,
                **overrides: Any) -> Iterator[ApiEnv]:
    """Start the service on a fresh database; stop it and drop the database afterwards.

    Args:
        encoder: the test encoder to serve with (default: a new :class:`HashingEncoder`).
        overrides: settings to change.
    """
    name = f"api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    db = Database(url=_with_db(pg_admin_url, name))
    try:
        n_ent, n_inv, months, seed = MARKET
        m = generate_market(n_ent, n_inv, months, seed=seed)
        save_batch(db, MarketBatch(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events))
        settings = Settings(**{"database_url": db.url, "data_dir": root / "data", "models_dir": root / "models",
                               "api_rate_burst": 100_000, "api_rate_per_second": 1000.0, "max_body_bytes": 4096,
                               "auth_max_failures": 100_000,  # tests send invalid keys on purpose, from one address
                               "model_poll_seconds": 0.3, "impression_flush_ms": 0,
                               "alert_engine": False,  # on in the alert tests only: it reloads the market on changes
                               **overrides})
        encoder = encoder or HashingEncoder()
        with TestClient(create_app(settings, encoder=encoder)) as client:
            env = ApiEnv(client, db, settings, {}, {}, encoder)
            _parties_and_keys(env)
            yield env
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _parties_and_keys(env: ApiEnv) -> None:
    m = env.state.matcher
    with env.db.connect(autocommit=True) as conn:
        vcs = [r[0] for r in conn.execute(
            "SELECT i.id FROM investors i JOIN mandates d ON d.investor_id = i.id AND d.valid_to IS NULL "
            "WHERE i.investor_type IN ('vc', 'pe') AND i.status <> 'inactive' ORDER BY i.id")]
        with_deals = [i for i in vcs if len(m.recommend_enterprises(i, 5)) >= 5]
        env.ids["inv"], env.ids["inv2"] = with_deals[0], with_deals[1]
        env.ids["sfund"] = _one(conn, "SELECT id FROM investors WHERE investor_type = 's_fund' "
                                      "AND status <> 'inactive' ORDER BY id LIMIT 1")
        ents = [r[0] for r in conn.execute(
            "SELECT DISTINCT e.id FROM enterprises e JOIN financing_needs n ON n.enterprise_id = e.id "
            "WHERE n.status = 'open' AND e.status = 'active' ORDER BY e.id")]
        with_investors = [e for e in ents if len(m.recommend_investors(e, 3)) >= 3]
        env.ids["ent"], env.ids["ent2"] = with_investors[0], with_investors[1]
        for name, role, inv, ent in (("admin", "admin", None, None), ("operator", "operator", None, None),
                                     ("ds", "data_scientist", None, None), ("inv", "investor", env.ids["inv"], None),
                                     ("inv2", "investor", env.ids["inv2"], None),
                                     ("sfund", "investor", env.ids["sfund"], None),
                                     ("ent", "enterprise", None, env.ids["ent"]),
                                     ("ent2", "enterprise", None, env.ids["ent2"]),
                                     ("revoked", "investor", env.ids["inv"], None)):
            env.keys[name] = keys_db.create_key(conn, role=role, investor_id=inv, enterprise_id=ent,
                                                label=f"test {name}").secret
        keys_db.revoke_key(conn, env.keys["revoked"])


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an error response (asserting the one shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "fields", "request_id"}, err
    assert " / " in err["message"], err["message"]  # 中文 / English
    assert err["request_id"] == response.headers["x-request-id"]
    return err


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Whether ``condition()`` came true within ``seconds`` (asked every 0.1 s): for what a poller or
    another process does in its own time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def copy_need(api: ApiEnv, need_id: int, **changes: Any) -> int:
    """A new need of the same enterprise, like ``need_id`` with ``changes`` (``None`` leaves a field out), created
    through POST /v1/needs as the admin; its id."""
    ent, instr, amount, rnd = api.sql("SELECT enterprise_id, instrument, amount, round FROM financing_needs "
                                      "WHERE id = %s", (need_id,))[0]
    body = {"enterprise_id": ent, "instrument": instr, "amount": float(amount), "round": rnd, **changes}
    r = api.post("/v1/needs", "admin", {k: v for k, v in body.items() if v is not None})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def serve_trained_model(env: ApiEnv, version: str = "v1") -> None:
    """Train ``version`` on the service's database, promote it (forced, by the admin) and wait until the
    service serves it."""
    from training import pipeline  # heavy: only for the modules that train

    with env.db.connect(autocommit=True) as conn:
        pipeline.train(env.settings, conn, seed=0, version=version, encoder=env.encoder, show_progress=False)
    promoted = env.post(f"/v1/models/{version}/promote", "admin", {"force": True, "reason": "test: serve it"})
    assert promoted.status_code == 200, promoted.text
    assert wait_for(lambda: env.state.matcher.model_version == version), env.state.matcher.model_version


def console_client(api: ApiEnv, key: str | None = None, secret: str | None = None) -> TestClient:
    """A console client of its own (its own cookies), signed in through the sign-in form with the named
    role's key (or a secret), or not signed in when neither is given."""
    client = TestClient(api.client.app, follow_redirects=False)
    assert client.get("/web/signin").status_code == 200
    if key or secret:
        r = client.post("/web/signin", data={"api_key": secret or api.keys[key], "csrf": client.cookies["cc_csrf"]})
        assert r.status_code == 303, r.text
    return client
