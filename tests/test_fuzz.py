"""Fuzzing from the service's own OpenAPI schema with schemathesis: every operation, with every role's
key, no 5xx, every answer as declared.

A bounded, seeded pass (``FUZZ_EXAMPLES`` requests per operation, positive and negative cases drawn
by schemathesis; the same requests every run); ``python -m bench.reliability`` runs the long one. The
checks are :mod:`bench.schema_fuzz`'s. Retraining is replaced by a no-op job here (a real one would
train a model per request).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers_api import ApiEnv, api_service

from bench import schema_fuzz as sf

FUZZ_EXAMPLES = 10
NOTHING_TO_FIND = {"/v1/models/jobs/{job_id}", "/v1/models/{version}",  # no job or version exists here
                   "/v1/investors/{investor_id}/secondaries",  # a list only for the S fund's own key and id
                   "/v1/investors/{investor_id}/webhook",  # no webhook registered here
                   "/v1/investors/{investor_id}/saved-searches/{search_id}"}  # nor any saved search
ROLES = ("admin", "operator", "ds", "inv", "sfund", "ent")


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("fuzz")) as env:
        schema = sf.load(env.client.get("/openapi.json").json())
        env.extra["ops"] = {(op.method.upper(), op.path): op for op in sf.operations(schema)}
        env.extra["outcome"] = sf.Outcome()
        env.extra["client"] = TestClient(env.client.app, raise_server_exceptions=False)  # a 500 is an answer
        yield env


def _labels() -> list[tuple[str, str]]:
    from api.app import create_app
    from matching.config import Settings

    spec = create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/x")).openapi()
    return [(op.method.upper(), op.path) for op in sf.operations(sf.load(spec))]


OPS = _labels()


@pytest.mark.parametrize("label", OPS, ids=[f"{m} {p}" for m, p in OPS])
def test_fuzzed_requests_get_declared_answers_never_5xx(api: ApiEnv, label: tuple[str, str]) -> None:
    keys: dict[str, str | None] = {role: api.keys[role] for role in ROLES} | {"none": None}
    ids = [v for v in api.ids.values() if isinstance(v, int)]
    outcome = sf.Outcome()
    sf.fuzz_operation(api.extra["client"], api.extra["ops"][label], keys, ids, outcome, examples=FUZZ_EXAMPLES,
                      derandomize=True)
    total: sf.Outcome = api.extra["outcome"]
    total.cases += outcome.cases
    total.by_status.update(outcome.by_status)
    assert outcome.failures == [], "\n".join(outcome.failures[:10])
    assert outcome.server_errors == 0 and outcome.cases > 0, dict(outcome.by_status)
    method, path = label
    if method == "GET" and path not in NOTHING_TO_FIND:  # the fuzzer reaches the route's real work
        assert any(s < 300 for s in outcome.by_status), dict(outcome.by_status)


def test_the_bounded_pass_covered_every_operation_in_a_few_hundred_cases(api: ApiEnv) -> None:
    total: sf.Outcome = api.extra["outcome"]
    statuses = dict(sorted(total.by_status.items()))
    print(f"schemathesis: {total.cases} cases over {len(OPS)} operations, statuses {statuses}")
    assert total.cases >= 5 * len(OPS) and total.server_errors == 0, (total.cases, dict(total.by_status))


def test_the_spec_declares_the_error_statuses_of_every_v1_route(api: ApiEnv) -> None:
    for (method, path), op in api.extra["ops"].items():
        if path.startswith("/v1/"):
            declared = {str(s) for s in op.definition.raw["responses"]}
            assert {"401", "403", "422", "429", "503"} <= declared, f"{method} {path}"


def test_a_5xx_is_reported_as_a_failure(api: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks can fail: a route that breaks is caught (a fuzzer that cannot fail proves nothing)."""
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(type(api.state.matcher), "search", broken)  # the matcher is frozen: patch its class
    outcome = sf.Outcome()
    t0 = time.perf_counter()
    sf.fuzz_operation(api.extra["client"], api.extra["ops"][("GET", "/v1/search")], {"inv": api.keys["inv"]}, [],
                      outcome, examples=20, derandomize=True)
    assert outcome.server_errors > 0 and any("server error" in f for f in outcome.failures), outcome
    assert time.perf_counter() - t0 < 30
