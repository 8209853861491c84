"""The enterprise profile export for government data platforms (企业画像): one record per enterprise.

Pure shaping, no I/O of its own beyond the writer it is given: :func:`profile_record` builds the documented
record (schema :data:`SCHEMA_VERSION`, described field by field in ``enterprise_profile.schema.json`` beside
this module, :data:`SCHEMA_PATH`) from parts the caller has already cut to what the audience may see
(:mod:`api.services.profile_export` applies :mod:`api.disclosure`); :func:`jsonl_lines` and :func:`csv_chunks`
write records as JSON Lines or as flattened CSV (UTF-8, with or without BOM, or GB18030), a chunk at a time,
so a large market streams.

CSV flattens a record into :data:`CSV_COLUMNS`: the profile's scalars, list fields joined with ``、``, the
latest financial year as ``fin_*`` columns, counts, and the nested parts (financials, tier history,
readiness, programmes) once more as compact JSON in ``*_json`` columns, so a CSV loses nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).with_name("enterprise_profile.schema.json")
#: Who the export is for: what the enterprise's disclosure choice and tier show to a party outside the
#: platform that has no accepted contact (the rule of :func:`api.disclosure.decide`, applied by the service).
AUDIENCE = "government_platform"

#: The profile's fields, in record order (all of them public except ``registered_capital`` and ``financials``,
#: which follow the enterprise's disclosure).
PROFILE_FIELDS = ("id", "credit_code", "name", "short_name", "name_en", "district", "district_name", "province",
                  "country", "city", "industry", "industry_zh", "tier", "tier_zh", "boards", "boards_zh",
                  "qualifications", "listing_target", "founded_on", "registered_capital", "status", "description",
                  "financials")
FINANCIAL_FIELDS = ("year", "revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents")
HISTORY_FIELDS = ("tier", "boards", "qualifications", "changed_at", "source")
#: Funnel stages counted (distinct investors that reached each): no investor is named. Never a private type
#: (``viewed``, ``saved``, ``dismissed``: :data:`matching.rules.event_visibility.PRIVATE_TYPES`).
FUNNEL_STAGES = ("contact_requested", "contact_accepted", "meeting", "invested")

#: Readiness targets with columns of their own in CSV (``next_tier``: the tier above the enterprise's); any
#: other target a newer standards file adds is in ``readiness_json`` only.
READINESS_TARGETS = ("next_tier", "neeq_basic", "neeq_innovative", "bse", "chinext", "star", "main")

Encoding = Literal["utf-8", "gb18030"]
ENCODINGS: tuple[str, ...] = ("utf-8", "gb18030")
_LIST_SEP = "、"

CSV_COLUMNS: tuple[str, ...] = (
    "schema_version", "exported_at", "audience",
    *(f for f in PROFILE_FIELDS if f != "financials"),
    "disclosure_choice", "disclosure_basis", "withheld",
    *(f"fin_{f}" for f in FINANCIAL_FIELDS), "financials_json",
    "tier_history_count", "tier_first_recorded_at", "tier_last_changed_at", "tier_history_json",
    "readiness_status", *(f"readiness_{t}_{x}" for t in READINESS_TARGETS for x in ("status", "score")),
    "readiness_changes", "readiness_withheld", "readiness_json",
    "programmes_status", "programmes_qualified", "programmes_near_miss", "programmes_withheld", "programmes_json",
    *(f"funnel_{s}" for s in FUNNEL_STAGES),
)


@dataclass(frozen=True)
class ProfileParts:
    """One enterprise's parts, each already cut to what the audience may see.

    Attributes:
        profile: the redacted profile (:data:`PROFILE_FIELDS`; ``financials`` a list of yearly dicts newest
            first, ``None`` when withheld as a whole; a withheld scalar ``None``).
        disclosure_choice: the enterprise's setting (``tier_default``, ``public``, ``on_request``).
        disclosure_basis: why the audience sees what it sees (``tier:growth``, ``disclosure:public`` …).
        withheld: the withheld field groups (``registered_capital``, ``operating_metrics``, ``financials``).
        tier_history: the changes, oldest first (:data:`HISTORY_FIELDS`).
        funnel: distinct investors per :data:`FUNNEL_STAGES` stage.
        readiness: the targets the audience may see, as the readiness API shows them.
        readiness_changes: the changes that would move readiness most, as the readiness API lists them.
        readiness_withheld: the codes of the targets left out because their figures are withheld.
        programmes: programmes matched (``status`` qualifies / near_miss), as the programmes API shows them.
        programmes_withheld: how many open programmes were left out because their rules read withheld figures.
        programmes_on_file: whether any programme is open (else the programmes part is ``unavailable``).
    """

    profile: Mapping[str, Any]
    disclosure_choice: str
    disclosure_basis: str
    withheld: Sequence[str]
    tier_history: Sequence[Mapping[str, Any]]
    funnel: Mapping[str, int]
    readiness: Sequence[Mapping[str, Any]] = ()
    readiness_changes: Sequence[Mapping[str, Any]] = ()
    readiness_withheld: Sequence[str] = ()
    programmes: Sequence[Mapping[str, Any]] = ()
    programmes_withheld: int = 0
    programmes_on_file: bool = False


def profile_record(parts: ProfileParts, *, exported_at: datetime) -> dict[str, Any]:
    """The export record of one enterprise (JSON-ready: dates and times as ISO 8601 text, amounts as numbers).

    Raises:
        KeyError: a profile field of :data:`PROFILE_FIELDS` is missing (the caller's query is out of step).
    """
    profile = {f: _plain(parts.profile[f]) for f in PROFILE_FIELDS}
    if profile["financials"] is not None:
        profile["financials"] = [{f: _plain(y.get(f)) for f in FINANCIAL_FIELDS} for y in parts.profile["financials"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "exported_at": exported_at.isoformat(),
        "audience": AUDIENCE,
        "enterprise": profile,
        "disclosure": {"choice": parts.disclosure_choice, "basis": parts.disclosure_basis,
                       "withheld": list(parts.withheld)},
        "tier_history": [{f: _plain(h[f]) for f in HISTORY_FIELDS} for h in parts.tier_history],
        "readiness": {"status": _status(bool(parts.readiness), bool(parts.readiness_withheld), True),
                      "targets": [_plain(r) for r in parts.readiness],
                      "changes": [_plain(c) for c in parts.readiness_changes],
                      "withheld": list(parts.readiness_withheld)},
        "programmes": {"status": _status(bool(parts.programmes), parts.programmes_withheld > 0,
                                         parts.programmes_on_file),
                       "items": [_plain(p) for p in parts.programmes], "withheld": parts.programmes_withheld},
        "funnel": {s: int(parts.funnel.get(s, 0)) for s in FUNNEL_STAGES},
    }


def _status(shown: bool, withheld: bool, on_file: bool) -> str:
    """``assessed`` (something shown, or nothing withheld), ``withheld`` (all of it withheld) or
    ``unavailable`` (nothing to assess: no programme open)."""
    if not on_file:
        return "unavailable"
    return "withheld" if withheld and not shown else "assessed"


def flatten(record: Mapping[str, Any]) -> dict[str, str]:
    """A record as one CSV row over :data:`CSV_COLUMNS` (text cells; ``""`` for none)."""
    ent = record["enterprise"]
    years = ent["financials"] or []
    latest = years[0] if years else {}
    history = record["tier_history"]
    items = record["programmes"]["items"]
    ready = {("next_tier" if t.get("kind") == "tier" else t["target"]): t for t in record["readiness"]["targets"]}
    row: dict[str, Any] = {
        "schema_version": record["schema_version"], "exported_at": record["exported_at"],
        "audience": record["audience"],
        **{f: ent[f] for f in PROFILE_FIELDS if f != "financials"},
        "disclosure_choice": record["disclosure"]["choice"], "disclosure_basis": record["disclosure"]["basis"],
        "withheld": record["disclosure"]["withheld"],
        **{f"fin_{f}": latest.get(f) for f in FINANCIAL_FIELDS},
        "financials_json": ent["financials"],
        "tier_history_count": len(history),
        "tier_first_recorded_at": history[0]["changed_at"] if history else None,
        "tier_last_changed_at": history[-1]["changed_at"] if history else None,
        "tier_history_json": history,
        "readiness_status": record["readiness"]["status"],
        **{f"readiness_{t}_{x}": ready.get(t, {}).get(x) for t in READINESS_TARGETS for x in ("status", "score")},
        "readiness_changes": "；".join(c["text_zh"] for c in record["readiness"]["changes"]) or None,
        "readiness_withheld": record["readiness"]["withheld"], "readiness_json": record["readiness"]["targets"],
        "programmes_status": record["programmes"]["status"],
        "programmes_qualified": sum(1 for p in items if p["status"] == "qualifies"),
        "programmes_near_miss": sum(1 for p in items if p["status"] == "near_miss"),
        "programmes_withheld": record["programmes"]["withheld"], "programmes_json": items,
        **{f"funnel_{s}": record["funnel"][s] for s in FUNNEL_STAGES},
    }
    return {c: _cell(c, row[c]) for c in CSV_COLUMNS}


def jsonl_lines(records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Each record as one line of JSON (UTF-8 text, Chinese as it is, ``\\n`` ended)."""
    for r in records:
        yield json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_chunks(records: Iterable[Mapping[str, Any]], *, encoding: Encoding = "utf-8", bom: bool = True,
               rows_per_chunk: int = 200) -> Iterator[bytes]:
    """The records as CSV bytes (header first, CRLF line ends), ``rows_per_chunk`` rows at a time.

    Args:
        encoding: ``utf-8`` or ``gb18030`` (Excel on Chinese Windows opens either; GB18030 needs no BOM).
        bom: start UTF-8 with a byte-order mark (Excel then reads it as UTF-8); ignored for GB18030.

    Raises:
        ValueError: for another encoding (listing the allowed ones).
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)}")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    first = ("\ufeff" if bom and encoding == "utf-8" else "")
    pending = 0
    for r in records:
        writer.writerow(flatten(r))
        pending += 1
        if pending >= rows_per_chunk:
            yield (first + buf.getvalue()).encode(encoding)
            first, pending = "", 0
            buf.seek(0)
            buf.truncate()
    if buf.getvalue() or first:
        yield (first + buf.getvalue()).encode(encoding)


def load_schema() -> dict[str, Any]:
    """The shipped JSON Schema of a record (draft 2020-12)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _plain(value: Any) -> Any:
    """JSON-ready: dates as ISO text, Decimals as numbers, tuples as lists, mappings recursively."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _cell(column: str, value: Any) -> str:
    """One CSV cell: lists of codes joined with ``、``; nested parts (``*_json``) as compact JSON."""
    if value is None:
        return ""
    if column.endswith("_json"):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, list):
        return _LIST_SEP.join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text  # a spreadsheet must not read a cell as a formula
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
