"""The enterprise profile export for government data platforms (企业画像): ``GET /v1/exports/profiles``
(:mod:`api.routes.exports`) and ``capconnect export profiles`` (:mod:`cli.commands.export`).

**The audience.** A government data platform (渝快办, 市公共数据资源管理平台) is a party outside this
platform that has no accepted contact with the enterprise. It sees exactly what the enterprise's disclosure
choice and tier show to such a party: the rule of :func:`api.disclosure.decide` for an investor without the
mutual reveal (one rule, not a second one): ``public`` → everything; ``on_request`` → the public profile;
``tier_default`` → by tier (基础层 the public profile, 成长层 + registered capital and operating metrics,
优选层 everything). The refusal lists (excluded investors) are internal and never exported. Each record says
what was withheld and why (``disclosure``).

What is derived from a withheld figure is withheld with it: readiness and programmes are exported only where
the figures they read are disclosed (:mod:`api.services.profile_parts`); funnel outcomes are
counts of distinct investors per stage, naming no investor. Each confidential field group exported is
audited per enterprise (:func:`api.security.record_confidential_views`, basis ``export:<basis>``) when an
API key exports.

The records are shaped by :mod:`matching.ingest.profile_export` (schema version, JSON Schema, CSV columns);
the SQL is :mod:`store.profile_export`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from fastapi.responses import StreamingResponse

from api import disclosure
from api.deps import STAFF, Principal
from api.security import record_confidential_views
from api.services.checks import authorize, district_codes, district_name, invalid, label
from api.services.profile_parts import PartsContext
from api.state import AppState
from matching.domain import industries, vocab
from matching.ingest import profile_export as shape
from store import profile_export as export_db
from store import tier_history

logger = logging.getLogger(__name__)

Format = Literal["jsonl", "csv"]
FORMATS: tuple[str, ...] = ("jsonl", "csv")
MEDIA_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset={encoding}"}


def audience_decision(row: Mapping[str, Any]) -> disclosure.Decision:
    """What the government platform may see of an enterprise row (``tier``, ``disclosure``, ``id``)."""
    return disclosure.decide(role="investor", tier=row["tier"], disclosure=row["disclosure"],
                             enterprise_id=row["id"], contact_accepted=False)


def records(conn: psycopg.Connection, *, district: Sequence[str] = (), who: Principal | None = None,
            exported_at: datetime | None = None, batch: int = 500) -> Iterator[dict[str, Any]]:
    """The export records of the enterprises (id order; ``district`` codes narrow), a batch at a time.

    Args:
        conn: an autocommit connection (audit rows commit as each batch is read).
        who: the key exporting, whose views are audited (``None``: the server's command line, logged instead).
        exported_at: the export's time (default: now, UTC), the same in every record.
    """
    at = exported_at or datetime.now(UTC)
    count, context = 0, PartsContext(conn)
    for rows in export_db.enterprise_batches(conn, district=district, batch=batch):
        ids = [r["id"] for r in rows]
        history, funnel = tier_history.of_enterprises(conn, ids), export_db.funnel_counts(conn, ids)
        decisions = [audience_decision(r) for r in rows]
        programmes = context.programmes(conn, rows, decisions)
        out, audited = [], []
        for row, decision, (items, programmes_withheld) in zip(rows, decisions, programmes, strict=True):
            view = disclosure.redact(row, decision)
            audited.append({"id": row["id"], "withheld": view["withheld"],
                            "disclosure": {"basis": f"export:{decision.basis}"}})
            targets, changes, targets_withheld = context.readiness(conn, row, decision)
            parts = shape.ProfileParts(
                profile=_labelled(view), disclosure_choice=row["disclosure"], disclosure_basis=decision.basis,
                withheld=decision.withheld, tier_history=history.get(row["id"], []),
                funnel=funnel.get(row["id"], {}), readiness=targets, readiness_changes=changes,
                readiness_withheld=targets_withheld,
                programmes=items, programmes_withheld=programmes_withheld,
                programmes_on_file=bool(context.programmes_open))
            out.append(shape.profile_record(parts, exported_at=at))
        if who is not None:
            record_confidential_views(conn, who, audited)  # audited before the batch is sent
        count += len(out)
        yield from out
    logger.info("profile export: %d enterprises (district %s, by %s)", count, ",".join(district) or "all",
                who.key_shown if who is not None else "command line")


def check(who: Principal, *, fmt: str, encoding: str, district: Sequence[str] | None) -> list[str]:
    """Authorize (admin, operator) and check the parameters before anything streams; the district codes.

    Raises:
        ApiError: 403 for other roles; 422 naming the format, encoding or district that is not allowed.
    """
    authorize(who, *STAFF)
    if fmt not in FORMATS:
        raise invalid("format", fmt, f"不支持的导出格式：{fmt}", f"format must be one of {', '.join(FORMATS)}", FORMATS)
    if encoding not in shape.ENCODINGS:
        raise invalid("encoding", encoding, f"不支持的编码：{encoding}",
                      f"encoding must be one of {', '.join(shape.ENCODINGS)}", shape.ENCODINGS)
    return district_codes(district)


def response(state: AppState, who: Principal, *, fmt: str, encoding: str = "utf-8", bom: bool = True,
             district: Sequence[str] | None = None) -> StreamingResponse:
    """The export as a streamed download (``profiles_<date>.jsonl`` / ``.csv``); parameters checked first."""
    codes = check(who, fmt=fmt, encoding=encoding, district=district)
    at = datetime.now(UTC)

    def body() -> Iterator[bytes | str]:
        with state.pool.connection() as conn:  # its own connection: the stream outlives the request's
            recs = records(conn, district=codes, who=who, exported_at=at)
            if fmt == "csv":
                yield from shape.csv_chunks(recs, encoding=encoding, bom=bom)  # type: ignore[arg-type]
            else:
                yield from (line.encode("utf-8") for line in shape.jsonl_lines(recs))

    name = f"profiles_{at.date().isoformat()}.{fmt}"
    return StreamingResponse(body(), media_type=MEDIA_TYPES[fmt].format(encoding=encoding),
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "X-Schema-Version": shape.SCHEMA_VERSION})


def _labelled(view: Mapping[str, Any]) -> dict[str, Any]:
    """The redacted view with the Chinese labels the record carries."""
    out = dict(view)
    out["district_name"] = district_name(view["district"])
    out["industry_zh"] = industries.industry(view["industry"]).zh if view["industry"] else None
    out["tier_zh"] = label(vocab.TIERS, view["tier"])
    out["boards_zh"] = [vocab.BOARDS.label(b) for b in view["boards"]]
    return out
