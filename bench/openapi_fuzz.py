"""A small property-based fuzzer driven by the service's own OpenAPI schema.

For every operation in ``/openapi.json`` it draws requests with Hypothesis: path and query
parameters and JSON bodies built from their JSON Schemas (valid values, values from a pool of real
ids, and hostile ones: wrong types, huge and control-character strings, SQL metacharacters, huge
numbers, unknown and missing fields), sends them, and checks the answer:

* never a 5xx (a 503 is allowed only when the caller says the database may be down);
* the status is one the operation declares (or 401/403/404/405/413/422/429, which every route may give);
* a JSON answer validates against the schema declared for that status (errors: the one error shape).

``tests/test_fuzz.py`` runs a bounded pass in CI; ``python -m bench.reliability`` a long one.
Schemathesis would do the same; it is not used because this is 200 lines with no new dependency
and runs on the suite's in-process TestClient and on a live server alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

#: Statuses any operation may answer although it does not list them (auth, routing, limits, validation).
ALWAYS = {"307", "401", "403", "404", "405", "413", "422", "429"}  # 307: Starlette's trailing-slash redirect
HOSTILE_TEXT = ["' OR '1'='1", "'; DROP TABLE enterprises; --", "\" OR 1=1 --", "%' AND 1=1 --", "\\", "%%", "%s",
                "{0}", "$1", "NULL", "\u0000", "\ud7ff\ue000", "😀" * 50, "中" * 5000, "a" * 100_000,
                "../../etc/passwd",
                "<script>alert(1)</script>", "1e309", "-0", "NaN", "Infinity", " ", "\t\n", "\u202e"]
HOSTILE_NUMBERS: list[Any] = [-1, 0, 2**31, 2**63, -(2**63) - 1, 10**40, 1e308, -1e308, 0.1, True, "1", None]


@dataclass
class Operation:
    """One method on one path template, with what the schema says about it."""

    method: str
    path: str
    params: list[dict[str, Any]]
    body: dict[str, Any] | None
    body_type: str | None
    responses: dict[str, Any]


@dataclass
class Outcome:
    """What a fuzz run saw."""

    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, status: int) -> None:
        self.cases += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1


def operations(spec: Mapping[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document."""
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = (op.get("requestBody") or {}).get("content", {})
            body_type = next(iter(content), None)
            out.append(Operation(method.upper(), path, op.get("parameters", []),
                                 content[body_type]["schema"] if body_type else None, body_type,
                                 op.get("responses", {})))
    return out


class Schemas:
    """Hypothesis strategies and validators for the schemas of one OpenAPI document."""

    def __init__(self, spec: Mapping[str, Any], ids: Sequence[int] = ()) -> None:
        self.spec, self.components = spec, spec.get("components", {})
        self.ids = list(ids) or [1]

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.components["schemas"][name]
        return schema

    def validator(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        return Draft202012Validator({**schema, "components": self.components})

    def valid(self, schema: Mapping[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        """Values that mostly satisfy ``schema`` (formats and patterns are approximated)."""
        s = self.resolve(schema)
        if "enum" in s:
            return st.sampled_from(s["enum"])
        if "const" in s:
            return st.just(s["const"])
        if "anyOf" in s or "oneOf" in s:
            return st.one_of([self.valid(x, depth) for x in s.get("anyOf", s.get("oneOf"))])
        kind = s.get("type")
        if kind == "integer":
            lo = s.get("minimum", s.get("exclusiveMinimum", -10) + (1 if "exclusiveMinimum" in s else 0))
            hi = s.get("maximum", max(int(lo) + 1000, 1000))
            return st.one_of(st.sampled_from(self.ids), st.integers(int(lo), int(hi)))
        if kind == "number":
            return st.floats(s.get("minimum", -1e6), s.get("maximum", 1e9), allow_nan=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        if kind == "array":
            return st.lists(self.valid(s.get("items", {}), depth + 1), max_size=3 if depth < 2 else 0)
        if kind == "object" or "properties" in s:
            props = s.get("properties", {})
            if depth > 3:
                return st.just({})
            required = {k: self.valid(props[k], depth + 1) for k in s.get("required", []) if k in props}
            optional = {k: self.valid(v, depth + 1) for k, v in props.items() if k not in required}
            return st.fixed_dictionaries(required, optional=optional)
        if kind == "string":
            fmt = s.get("format")
            if fmt == "date":
                return st.dates().map(str)
            if fmt == "date-time":
                return st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(
                    lambda d: d.isoformat() + "+08:00")
            if fmt == "uuid":
                return st.uuids().map(str)
            if "pattern" in s:
                return st.from_regex(s["pattern"], fullmatch=True).filter(
                    lambda x: len(x) <= s.get("maxLength", 200))
            return st.text(min_size=s.get("minLength", 0), max_size=min(s.get("maxLength", 40), 40))
        return st.one_of(st.none(), st.integers(), st.text(max_size=10))

    def hostile(self) -> st.SearchStrategy[Any]:
        """Values of the wrong kind or shape."""
        return st.one_of(st.sampled_from(HOSTILE_TEXT), st.sampled_from(HOSTILE_NUMBERS), st.text(max_size=300),
                         st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                               max_size=2))

    def value(self, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
        """Mostly valid, sometimes hostile."""
        return st.one_of(self.valid(schema), self.valid(schema), self.hostile())

    def body(self, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
        """A JSON body: valid, with one field made hostile, with an unknown field, or not an object at all."""
        valid = self.valid(schema)
        s = self.resolve(schema)
        props = list(s.get("properties", {}))
        mutated = st.tuples(valid, st.sampled_from(props or ["x"]), self.hostile()).map(
            lambda t: {**t[0], t[1]: t[2]} if isinstance(t[0], dict) else t[0])
        unknown = valid.map(lambda b: {**b, "__proto__": 1} if isinstance(b, dict) else b)
        return st.one_of(valid, valid, mutated, unknown, self.hostile())


def request_strategy(op: Operation, schemas: Schemas) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for :meth:`httpx.Client.request` (``url`` filled, path params substituted)."""
    path_params = {p["name"]: schemas.value(p.get("schema", {})) for p in op.params if p["in"] == "path"}
    query = {p["name"]: schemas.value(p.get("schema", {})) for p in op.params if p["in"] == "query"}

    def build(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
        url = op.path
        for name, strat in path_params.items():
            url = url.replace("{" + name + "}", _segment(draw(strat)))
        params = {k: _query_value(v) for k, v in draw(st.fixed_dictionaries({}, optional=query)).items()}
        kw: dict[str, Any] = {"method": op.method, "url": url, "params": params}
        if op.body_type == "application/json":
            kw["content"] = json.dumps(draw(schemas.body(op.body or {})), ensure_ascii=False).encode("utf-8")
            kw["headers"] = {"Content-Type": "application/json"}
        elif op.body_type == "multipart/form-data":
            data = draw(st.sampled_from([b"", b"\xff\xfe\x00bad", "统一社会信用代码,企业名称\r\n1,2\r\n".encode("gbk"),
                                         b"{\"a\": 1}\n"]))
            kw["files"] = {draw(st.sampled_from(["file", "upload"])): ("x.csv", data, "text/csv")}
        return kw

    return st.composite(lambda draw: build(draw))()


def _segment(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    if text in (".", ".."):  # a client would normalise the path: /v1/models/.. is /v1
        return text.replace(".", "%2E")
    return quote(text[:2000], safe="") or "x"


def _query_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_query_value(v) for v in value]
    if isinstance(value, (dict, bool)) or value is None:
        return json.dumps(value)
    return value[:2000] if isinstance(value, str) else value  # httpx refuses query strings over 64 KiB (encoded)


def check(op: Operation, response: httpx.Response, schemas: Schemas, *, allow_503: bool = False) -> str | None:
    """A failure message, or ``None`` when the answer is acceptable."""
    status = str(response.status_code)
    where = f"{op.method} {response.request.url.raw_path.decode(errors='replace')[:200]} -> {status}"
    if response.status_code >= 500 and not (allow_503 and response.status_code == 503):
        return f"{where}: server error {response.text[:300]}"
    if response.status_code == 503:
        return None
    declared = op.responses.get(status) or op.responses.get(status[0] + "XX")
    if declared is None and status not in ALWAYS:
        return f"{where}: status not declared (declared: {sorted(op.responses)})"
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return None if response.status_code < 400 else f"{where}: error without a JSON body ({content_type})"
    body = response.json()
    if response.status_code >= 400:
        err = body.get("error") if isinstance(body, dict) else None
        if not (isinstance(err, dict) and set(err) == {"code", "message", "fields", "request_id"}):
            return f"{where}: not the one error shape: {str(body)[:300]}"
        return None
    schema = ((declared or {}).get("content", {}).get("application/json") or {}).get("schema")
    if schema:
        errors = sorted(schemas.validator(schema).iter_errors(body), key=lambda e: e.path)
        if errors:
            e = errors[0]
            return f"{where}: response does not match its schema at {list(e.path)}: {e.message[:200]}"
    return None


def skip_operation(op: Operation) -> bool:
    """Operations not fuzzed: the OpenAPI document and docs themselves."""
    return op.path in ("/openapi.json", "/docs", "/redoc") or re.match(r"^/docs/", op.path) is not None
