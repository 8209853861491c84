"""Fuzzing from the service's own OpenAPI schema with schemathesis.

Schemathesis draws, for every operation of ``/openapi.json``, requests that fit the schema (positive)
and requests that break it (negative: wrong types, missing and unknown fields, out-of-range values),
with Hypothesis. Here each drawn request is sent with the key of a drawn role (or none), integer path
ids are sometimes replaced by real ones (so routes reach their real work, not only 404), and each
answer is checked:

* never a 5xx (``not_a_server_error``; a 503 only where the caller says the database may be down);
* the status is one the operation declares, or 307/400/401/403/404/405/413/422/429, which any route may give;
* a JSON answer validates against the schema declared for its status (``response_schema_conformance``);
* every error has the one shape ``{"error": {"code", "message", "fields", "request_id"}}``.

``tests/test_fuzz.py`` runs a bounded, seeded pass over the suite's in-process app;
``python -m bench.reliability`` a long one over a live server. Both send through an ``httpx.Client``
(the suite's ``TestClient`` is one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

#: Statuses any operation may answer although it does not list them (routing, auth, limits, validation).
ALWAYS = {307, 400, 401, 403, 404, 405, 413, 422, 429}  # 307: Starlette's trailing-slash redirect; 400: not JSON
#: Operations never fuzzed: the OpenAPI document and the docs pages themselves.
NOT_FUZZED = ("/openapi.json", "/docs", "/redoc")
CHECKS = [not_a_server_error, response_schema_conformance]
ERROR_KEYS = {"code", "message", "fields", "request_id"}


@dataclass
class Outcome:
    """What a fuzz run saw: cases sent, statuses, and failures (one line each)."""

    cases: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for status, n in self.by_status.items() if status >= 500)


def load(spec: Mapping[str, Any]) -> Any:
    """The schemathesis schema of an OpenAPI document (``/openapi.json``)."""
    return schemathesis.openapi.from_dict(dict(spec))


def operations(schema: Any, skip: Sequence[tuple[str, str]] = ()) -> list[APIOperation]:
    """Every operation of the schema but the docs and ``skip`` (``(METHOD, path)`` pairs)."""
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if op.path not in NOT_FUZZED and not op.path.startswith("/docs/")
            and (op.method.upper(), op.path) not in set(skip)]


def strategy(op: APIOperation, keys: Mapping[str, str | None], ids: Sequence[int]) -> st.SearchStrategy[Any]:
    """``(case, role)``: a positive or negative case of ``op``, its integer path ids sometimes real ones."""
    cases = st.one_of(op.as_strategy(generation_mode=GenerationMode.POSITIVE),
                      op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    real = st.sampled_from(list(ids)) if ids else st.nothing()

    @st.composite
    def build(draw: st.DrawFn) -> tuple[Any, str]:
        case = draw(cases)
        for name, value in dict(case.path_parameters or {}).items():
            if ids and isinstance(value, int) and not isinstance(value, bool) and draw(st.booleans()):
                case.path_parameters[name] = draw(real)
        return case, draw(st.sampled_from(sorted(keys)))

    return build()


def send(client: httpx.Client, case: Any, secret: str | None) -> httpx.Response:
    """Send a case through an httpx client (a live server's or the suite's ``TestClient``)."""
    kw = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"))
    headers = {k: v for k, v in (kw.get("headers") or {}).items() if k.lower() not in ("authorization", "x-api-key")}
    if secret:
        headers["X-API-Key"] = secret
    body: dict[str, Any] = {}
    if kw.get("json") is not None:
        body["json"] = kw["json"]
    elif kw.get("files") or (kw.get("data") is not None and not isinstance(kw["data"], (bytes, str))):
        # multipart and form bodies in the requests style schemathesis serialises for: encoded as requests would
        prepared = requests.PreparedRequest()
        prepared.prepare_headers(None)
        prepared.prepare_body(kw.get("data"), kw.get("files"))
        body["content"] = prepared.body or b""
        if "Content-Type" in prepared.headers:
            headers["Content-Type"] = prepared.headers["Content-Type"]
    elif kw.get("data") is not None:
        body["content"] = kw["data"]
    if kw.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in kw["cookies"].items())
    return client.request(kw["method"], kw["url"], params=kw.get("params"), headers=headers, **body)


def check(case: Any, response: httpx.Response, *, allow_503: bool = False) -> str | None:
    """A failure line, or ``None`` when the answer is acceptable."""
    where = f"{case.method} {response.request.url.raw_path.decode(errors='replace')[:200]} -> {response.status_code}"
    status = response.status_code
    if status == 503 and allow_503:
        return None
    if status >= 500:
        return f"{where}: server error {response.text[:300]}"
    declared = {str(s) for s in case.operation.definition.raw.get("responses", {})}
    if str(status) not in declared and f"{str(status)[0]}XX" not in declared and status not in ALWAYS:
        return f"{where}: status not declared (declared: {sorted(declared)})"
    if status >= 400:
        try:
            err = response.json().get("error")
        except (ValueError, AttributeError):
            err = None
        if not (isinstance(err, dict) and set(err) == ERROR_KEYS):
            return f"{where}: not the one error shape: {response.text[:300]}"
        return None
    try:
        case.validate_response(response, checks=CHECKS)
    except (Failure, FailureGroup) as exc:  # one failure, or a group of them
        found = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
        return f"{where}: " + "; ".join(f"{f.title}: {' '.join(str(f.message).split())[:200]}" for f in found)
    return None


def fuzz_operation(client: httpx.Client, op: APIOperation, keys: Mapping[str, str | None], ids: Sequence[int],
                   outcome: Outcome, *, examples: int, derandomize: bool = False, allow_503: bool = False) -> None:
    """Send up to ``examples`` drawn requests to one operation; record each in ``outcome``."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck))
    @given(drawn=strategy(op, keys, ids))
    def one(drawn: tuple[Any, str]) -> None:
        case, role = drawn
        try:
            response = send(client, case, keys[role])
        except httpx.InvalidURL:  # refused by the client itself (too long): nothing was sent
            return
        except httpx.HTTPError as exc:
            outcome.cases += 1
            outcome.failures.append(f"{op.method.upper()} {op.path}: {type(exc).__name__}: {exc}")
            return
        outcome.cases += 1
        outcome.by_status[response.status_code] += 1
        problem = check(case, response, allow_503=allow_503)
        if problem:
            outcome.failures.append(f"[{role}] {problem}")

    one()
