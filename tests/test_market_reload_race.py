"""Two threads reload the market (the model poller and the alert engine both call ``check_market``): the newer
market must win. Before the reload lock, a slow rebuild of the older market that finished last replaced the
newer one, and lists were served from the stale market until the next poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from helpers_api import ApiEnv, api_service

from store.market_read import market_fingerprint


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("reload-race")) as env:
        yield env


def _fingerprint(api: ApiEnv) -> str:
    with api.db.connect() as conn:
        return market_fingerprint(conn)


def test_a_slow_reload_of_an_older_market_never_replaces_a_newer_one(api: ApiEnv, monkeypatch: pytest.MonkeyPatch
                                                                     ) -> None:
    state = api.state
    real = state.rebuild
    assert real is not None
    built_from: dict[int, str] = {}  # id of each context built -> the market fingerprint it was built from
    first_started = threading.Event()

    def rebuild():  # type: ignore[no-untyped-def]
        seen = _fingerprint(api)
        context, shown = real()
        built_from[id(context)] = seen
        if not first_started.is_set():  # the first rebuild is the slow one, of the older market
            first_started.set()
            time.sleep(1.5)
        return context, shown

    monkeypatch.setattr(state, "rebuild", rebuild)
    ent = api.ids["ent"]
    api.sql("UPDATE enterprises SET updated_at = now() WHERE id = %s RETURNING id", (ent,))  # change 1
    slow = threading.Thread(target=state.check_market)
    slow.start()
    assert first_started.wait(60)
    api.sql("UPDATE enterprises SET updated_at = now() + interval '1 minute' WHERE id = %s RETURNING id",
            (ent,))  # change 2
    newest = _fingerprint(api)
    fast = threading.Thread(target=state.check_market)
    fast.start()
    slow.join(120)
    fast.join(120)
    assert state.market_fingerprint == newest
    assert built_from[id(state.matcher.context)] == newest
