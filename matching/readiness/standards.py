"""Listing and tier standards as versioned reference data: the metrics they may use, the file's format, its loader.

The platform ships ``standards.json`` (beside this module); operators replace it by import
(``capconnect import standards FILE.json``, ``POST /v1/imports/standards``), and the store keeps each
imported version (:mod:`store.standards`). A **target** (the next regional tier, a board) has one or
more alternative **sets** of criteria: it is met when *any* set is fully met. A target's ``common``
criteria are part of every one of its sets. Each **criterion** names a metric, an operator, a threshold
in a unit, how many years of figures it needs and how they combine (``aggregate``), and its source
(document, article) and date. ``threshold: null`` (with a ``note``) records a figure that is not public;
``verified: false`` one that could not be checked against the original text: both are shown to users as
"待确认 / to be confirmed".

Only the metrics an enterprise reports on the platform (:class:`matching.domain.records.Financials`:
revenue, net profit, growth, R&D ratio, employees, patents, and R&D spending = revenue × R&D ratio) can be
assessed; the others (market value, ROE, cash flow, net assets, governance steps such as 股改) are listed
as "not assessable from platform data", never silently passed or failed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from matching.domain import vocab
from matching.errors import FieldError

SHIPPED = Path(__file__).with_name("standards.json")


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric a criterion may use.

    Attributes:
        code: the name used in the file.
        zh: Chinese label. en: English label.
        kind: ``amount`` (yuan), ``ratio`` (a fraction), ``count``, ``per_share`` or ``flag`` (a step done).
        assessable: whether the platform's reported data carries it.
    """

    code: str
    zh: str
    en: str
    kind: str
    assessable: bool


METRICS: dict[str, Metric] = {m.code: m for m in (
    Metric("revenue", "营业收入", "revenue", "amount", True),
    Metric("net_profit", "净利润", "net profit", "amount", True),
    Metric("revenue_growth", "营业收入增长率", "revenue growth", "ratio", True),
    Metric("rd_ratio", "研发投入占营业收入比例", "R&D spending / revenue", "ratio", True),
    Metric("rd_spending", "研发投入", "R&D spending", "amount", True),
    Metric("employees", "员工人数", "employees", "count", True),
    Metric("patents", "专利数", "patents", "count", True),
    Metric("market_value", "预计市值", "expected market value", "amount", False),
    Metric("roe", "加权平均净资产收益率", "weighted average ROE", "ratio", False),
    Metric("operating_cash_flow", "经营活动现金流量净额", "operating cash flow", "amount", False),
    Metric("net_assets", "净资产", "net assets", "amount", False),
    Metric("net_assets_per_share", "每股净资产", "net assets per share", "per_share", False),
    Metric("share_capital", "股本总额", "share capital", "amount", False),
    Metric("equity_financing", "股权融资金额", "equity financing raised", "amount", False),
    Metric("joint_stock_reform", "完成股份制改造", "joint-stock reform (股改) done", "flag", False),
    Metric("ipo_guidance", "进入上市辅导", "IPO guidance (辅导) under way", "flag", False),
    Metric("neeq_listed", "已在新三板挂牌", "listed on the NEEQ", "flag", False),
    Metric("neeq_innovative_12m", "新三板创新层连续挂牌满12个月", "12 months on the NEEQ innovative tier", "flag",
           False),
    Metric("milestones_approved", "主要业务或产品获国家有关部门批准", "main products approved by the authorities",
           "flag", False),
)}

#: Units a threshold may be written in, per metric kind, with the factor to the platform's base unit.
UNITS: dict[str, dict[str, float]] = {
    "amount": {"万元": 1e4, "元": 1.0, "亿元": 1e8},
    "ratio": {"%": 0.01},
    "count": {"人": 1.0, "件": 1.0, "个": 1.0},
    "per_share": {"元/股": 1.0},
    "flag": {"是/否": 1.0},
}
OPERATORS = (">=", ">", "<=", "<", "done")
AGGREGATES = ("latest", "each", "sum", "mean", "pooled")
MAX_YEARS = 5
_CODE = re.compile(r"^[a-z0-9_]{1,40}$")
_CRITERION_KEYS = {"metric", "operator", "threshold", "unit", "years", "aggregate", "source", "date", "verified",
                   "note"}


@dataclass(frozen=True, slots=True)
class Criterion:
    """One condition of a set (see the module docstring); ``threshold`` is in ``unit``."""

    metric: str
    operator: str
    threshold: float | None
    unit: str
    years: int
    aggregate: str
    document: str
    article: str
    date: str | None
    verified: bool
    note: str

    @property
    def assessable(self) -> bool:
        """Whether the platform's reported data carries the metric."""
        return METRICS[self.metric].assessable

    @property
    def placeholder(self) -> bool:
        """Whether the figure is not public (``threshold`` null) or not verified: shown as "待确认"."""
        return self.threshold is None or not self.verified

    @property
    def scale(self) -> float:
        """Base units (yuan, fraction, count) per unit of ``threshold``."""
        return UNITS[METRICS[self.metric].kind][self.unit]

    def describe(self, lang: str = "zh") -> str:
        """The criterion in words, e.g. ``最近2年净利润合计 ≥ 10,000 万元``."""
        m = METRICS[self.metric]
        n = self.years
        if lang == "zh":
            when = {"latest": "最近一年", "each": f"最近{n}年每年", "sum": f"最近{n}年累计", "mean": f"最近{n}年平均",
                    "pooled": f"最近{n}年合计"}[self.aggregate] if m.kind != "flag" else ""
            if self.operator == "done":
                return m.zh
            limit = "待确认" if self.threshold is None else f"{_num(self.threshold)} {self.unit}"
            return f"{when}{m.zh} {self.operator} {limit}"
        when = {"latest": "last year", "each": f"each of the last {n} years", "sum": f"last {n} years combined",
                "mean": f"last {n} years' average", "pooled": f"last {n} years combined"}[self.aggregate]
        if self.operator == "done":
            return m.en
        limit = "to be confirmed" if self.threshold is None else f"{_num(self.threshold)} {self.unit}"
        return f"{m.en} ({when}) {self.operator} {limit}"


@dataclass(frozen=True, slots=True)
class CriteriaSet:
    """One alternative set: met when every criterion is (the target's ``common`` ones included)."""

    code: str
    zh: str
    en: str
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """A target an enterprise may aim for: the next regional tier (``kind`` ``tier``, for enterprises in
    ``next_of``) or a board (``kind`` ``board``)."""

    code: str
    zh: str
    en: str
    kind: str
    next_of: str | None
    sets: tuple[CriteriaSet, ...]


@dataclass(frozen=True, slots=True)
class Standards:
    """A validated standards file: its ``version``, the targets, and ``hash`` (SHA-256 of its canonical JSON)."""

    version: str
    title: str
    note: str
    targets: tuple[Target, ...]
    hash: str
    content: str  # the canonical JSON text (what is stored and hashed)

    @property
    def codes(self) -> tuple[str, ...]:
        """The target codes, in file order."""
        return tuple(t.code for t in self.targets)

    def target(self, code: str) -> Target:
        """The target ``code``.

        Raises:
            FieldError: no such target (the message lists the allowed codes).
        """
        for t in self.targets:
            if t.code == code:
                return t
        raise FieldError("target", code, f"unknown target; allowed: {', '.join(self.codes)}")

    def targets_for(self, tier: str | None) -> tuple[Target, ...]:
        """The targets an enterprise of ``tier`` is assessed against: the next tier of its own, then every board."""
        return tuple(t for t in self.targets if t.next_of is None or t.next_of == tier)

    def as_dict(self) -> dict[str, Any]:
        """The file's content as a dict."""
        return dict(json.loads(self.content))


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}".rstrip("0").rstrip(".")


def canonical(data: Mapping[str, Any]) -> str:
    """The canonical JSON text of a standards document (sorted keys, UTF-8, no spaces): what is hashed."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _need(cond: bool, field: str, value: object, reason: str) -> None:
    if not cond:
        raise FieldError(field, value, reason)


def _text(obj: Mapping[str, Any], key: str, where: str, *, required: bool = True, limit: int = 300) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    _need(isinstance(value, str) and 0 < len(value.strip()) <= limit, f"{where}.{key}" if where else key, value,
          f"a non-empty text of at most {limit} characters is required")
    return str(value).strip()


def _criterion(raw: Any, where: str) -> Criterion:
    _need(isinstance(raw, Mapping), where, raw, "a criterion must be an object")
    unknown = sorted(set(raw) - _CRITERION_KEYS)
    _need(not unknown, f"{where}.{unknown[0] if unknown else ''}", raw.get(unknown[0]) if unknown else None,
          f"unknown key; allowed: {', '.join(sorted(_CRITERION_KEYS))}")
    metric = raw.get("metric")
    _need(metric in METRICS, f"{where}.metric", metric, f"unknown metric; allowed: {', '.join(METRICS)}")
    m = METRICS[metric]
    op = raw.get("operator")
    _need(op in OPERATORS, f"{where}.operator", op, f"unknown operator; allowed: {', '.join(OPERATORS)}")
    _need((op == "done") == (m.kind == "flag"), f"{where}.operator", op,
          f"{metric} is a step: its operator is 'done'" if m.kind == "flag" else f"'done' is for steps; {metric} "
          "takes >=, >, <= or <")
    note = raw.get("note") or ""
    _need(isinstance(note, str) and len(note) <= 1000, f"{where}.note", note, "a text of at most 1000 characters")
    threshold = raw.get("threshold")
    if op == "done":
        _need(threshold is True, f"{where}.threshold", threshold, "a step's threshold is true")
        value: float | None = 1.0
    elif threshold is None:
        _need(bool(note.strip()), f"{where}.threshold", threshold,
              "null (not public) needs a note saying so, e.g. '未公开，待运营方确认'")
        value = None
    else:
        _need(isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and math.isfinite(threshold),
              f"{where}.threshold", threshold, "a number, or null with a note where the figure is not public")
        value = float(threshold)
    unit = raw.get("unit")
    allowed = UNITS[m.kind]
    _need(unit in allowed, f"{where}.unit", unit, f"unknown unit for {metric}; allowed: {', '.join(allowed)}")
    years = raw.get("years", 1)
    _need(isinstance(years, int) and not isinstance(years, bool) and 1 <= years <= MAX_YEARS, f"{where}.years",
          years, f"a whole number of years from 1 to {MAX_YEARS}")
    agg = raw.get("aggregate", "latest")
    _need(agg in AGGREGATES, f"{where}.aggregate", agg, f"unknown aggregate; allowed: {', '.join(AGGREGATES)}")
    _need(agg != "latest" or years == 1, f"{where}.years", years, "'latest' takes one year; use each, sum or mean")
    _need(agg != "pooled" or metric == "rd_ratio", f"{where}.aggregate", agg,
          "'pooled' (sum of R&D over sum of revenue) is for rd_ratio only")
    src = raw.get("source")
    _need(isinstance(src, Mapping), f"{where}.source", src, "an object with document and article is required")
    doc = _text(src, "document", f"{where}.source")
    art = _text(src, "article", f"{where}.source")
    when = raw.get("date")
    if when is None:
        _need(bool(note.strip()), f"{where}.date", when, "a date (YYYY-MM-DD), or null with a note saying why")
    else:
        try:
            date.fromisoformat(str(when))
        except ValueError:
            raise FieldError(f"{where}.date", when, "a date written YYYY-MM-DD is required") from None
    verified = raw.get("verified", True)
    _need(isinstance(verified, bool), f"{where}.verified", verified, "true or false")
    return Criterion(metric, op, value, unit, years, agg, doc, art, str(when) if when else None, verified, note.strip())


def _code(obj: Mapping[str, Any], where: str, seen: set[str]) -> str:
    code = obj.get("code")
    _need(isinstance(code, str) and bool(_CODE.match(code)), f"{where}.code", code,
          "a code of 1-40 lowercase letters, digits or underscores is required")
    _need(code not in seen, f"{where}.code", code, "duplicate code; each must be unique")
    seen.add(code)
    return str(code)


def _target(raw: Any, i: int, seen: set[str]) -> Target:
    where = f"targets[{i}]"
    _need(isinstance(raw, Mapping), where, raw, "a target must be an object")
    code = _code(raw, where, seen)
    where = f"targets[{code}]"
    kind = raw.get("kind")
    _need(kind in ("tier", "board"), f"{where}.kind", kind, "unknown kind; allowed: tier, board")
    next_of = raw.get("next_of")
    if kind == "tier":
        _need(next_of in vocab.TIERS, f"{where}.next_of", next_of,
              f"the tier this one follows is required; allowed: {', '.join(vocab.TIERS.codes)}")
    common_raw = raw.get("common", [])
    _need(isinstance(common_raw, list), f"{where}.common", common_raw, "a list of criteria")
    common = tuple(_criterion(c, f"{where}.common[{j}]") for j, c in enumerate(common_raw))
    sets_raw = raw.get("sets")
    _need(isinstance(sets_raw, list) and bool(sets_raw), f"{where}.sets", sets_raw, "a non-empty list of sets")
    sets: list[CriteriaSet] = []
    set_codes: set[str] = set()
    for j, s in enumerate(sets_raw):
        sw = f"{where}.sets[{j}]"
        _need(isinstance(s, Mapping), sw, s, "a set must be an object")
        sc = _code(s, sw, set_codes)
        sw = f"{where}.sets[{sc}]"
        crit = s.get("criteria")
        _need(isinstance(crit, list) and bool(crit), f"{sw}.criteria", crit, "a non-empty list of criteria")
        sets.append(CriteriaSet(sc, _text(s, "zh", sw), _text(s, "en", sw),
                                common + tuple(_criterion(c, f"{sw}.criteria[{k}]") for k, c in enumerate(crit))))
    return Target(code, _text(raw, "zh", where), _text(raw, "en", where), str(kind),
                  str(next_of) if kind == "tier" else None, tuple(sets))


def parse_standards(data: Mapping[str, Any] | str | bytes) -> Standards:
    """Validate a standards document (a dict, or its JSON text in UTF-8, GBK or GB18030).

    Raises:
        FieldError: the first bad field, named by its path with target and set codes
            (``targets[bse].sets[bse_2].criteria[1].metric``), the value, and what is allowed.
    """
    if isinstance(data, bytes):
        data = _decode(data)
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as e:
            raise FieldError("file", f"line {e.lineno} column {e.colno}", f"not valid JSON: {e.msg}") from None
        except RecursionError:
            raise FieldError("file", "nesting", "nested too deeply for a standards file") from None
    _need(isinstance(data, Mapping), "file", type(data).__name__, "a JSON object with version and targets")
    assert isinstance(data, Mapping)
    version = _text(data, "version", "", limit=40)
    targets_raw = data.get("targets")
    _need(isinstance(targets_raw, list) and bool(targets_raw), "targets", targets_raw, "a non-empty list of targets")
    seen: set[str] = set()
    targets = tuple(_target(t, i, seen) for i, t in enumerate(targets_raw))
    try:
        content = canonical(data)
    except ValueError:
        raise FieldError("file", "NaN", "NaN and Infinity are not JSON numbers; write a number or null") from None
    try:  # what the database cannot store: NUL characters, unpaired surrogates
        _need(not _has_nul(data), "file", "\\u0000", "text may not contain NUL characters; remove them")
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    except RecursionError:
        raise FieldError("file", "nesting", "nested too deeply for a standards file") from None
    except UnicodeEncodeError:
        raise FieldError("file", "\\ud800-\\udfff", "text may not contain unpaired surrogates; fix the file") from None
    return Standards(version, str(data.get("title") or ""), str(data.get("note") or ""), targets,
                     digest, content)


def _has_nul(obj: Any) -> bool:
    if isinstance(obj, str):
        return "\x00" in obj
    if isinstance(obj, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_has_nul(v) for v in obj)
    return False


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FieldError("file", "bytes", "text in UTF-8, GBK or GB18030 is required")


@lru_cache(maxsize=1)
def shipped() -> Standards:
    """The standards shipped with the code (the default while no version has been imported)."""
    return parse_standards(SHIPPED.read_bytes())


def load_standards(path: str | Path | None = None) -> Standards:
    """A standards file (the shipped one when ``path`` is ``None``), validated.

    Raises:
        FieldError: the file is not valid (see :func:`parse_standards`).
        FileNotFoundError: no file at ``path``.
    """
    return shipped() if path is None else parse_standards(Path(path).read_bytes())
