"""Fuzzing from the service's own OpenAPI schema: every operation, no 5xx, every answer as declared.

A bounded pass (``FUZZ_EXAMPLES`` requests per operation, seeded: the same requests every run);
``python -m bench.reliability`` runs the long one. The fuzzer itself is :mod:`bench.openapi_fuzz`.
Retraining is replaced by a no-op job here (a real one would train a model per request).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers_api import ApiEnv, api_service
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from bench import openapi_fuzz as fz

FUZZ_EXAMPLES = 25
NOTHING_TO_FIND = {"/v1/models/jobs/{job_id}", "/v1/models/{version}"}  # no job or version exists here
KEYS = ("admin", "admin", "operator", "ds", "inv", "ent", None)


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("fuzz")) as env:
        env.state.jobs.work = lambda job: None  # no real training per fuzzed retrain request
        env.extra["spec"] = env.client.get("/openapi.json").json()
        yield env


def _ops() -> list[fz.Operation]:
    from api.app import create_app
    from matching.config import Settings

    spec = create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/x")).openapi()
    return [op for op in fz.operations(spec) if not fz.skip_operation(op)]


OPS = _ops()


@pytest.mark.parametrize("op", OPS, ids=[f"{op.method} {op.path}" for op in OPS])
def test_fuzzed_requests_get_declared_answers_never_5xx(api: ApiEnv, op: fz.Operation) -> None:
    schemas = fz.Schemas(api.extra["spec"], ids=[v for v in api.ids.values() if isinstance(v, int)])
    failures: list[str] = []
    seen: list[int] = []

    @seed(7)
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(request=fz.request_strategy(op, schemas), key=st.sampled_from(KEYS))
    def run(request: dict[str, Any], key: str | None) -> None:
        headers = {**request.pop("headers", {}), **api.auth(key)}
        response = api.client.request(headers=headers, **request)
        seen.append(response.status_code)
        problem = fz.check(op, response, schemas)
        if problem:
            failures.append(problem)

    run()
    assert failures == [], "\n".join(failures[:10])
    if op.method == "GET" and op.path not in NOTHING_TO_FIND:  # the fuzzer reaches the route's real work
        assert any(s < 300 for s in seen), sorted(set(seen))


def test_the_spec_declares_the_error_statuses_of_every_v1_route(api: ApiEnv) -> None:
    for op in fz.operations(api.extra["spec"]):
        if op.path.startswith("/v1/"):
            assert {"401", "403", "422", "429", "503"} <= set(op.responses), f"{op.method} {op.path}"
