"""Listing readiness for the API and the console: an enterprise's own readiness, the staff pipeline, the
standards import, and the "接近北交所上市标准" reason on investors' deal lists.

Who sees what (the figures behind a readiness statement are the enterprise's confidential figures):

* the enterprise itself, admin, operator and data scientists see an enterprise's readiness;
* an investor sees it only when the enterprise's disclosure settings show it every figure readiness
  reads (yearly amounts and operating metrics: :mod:`api.disclosure`), or the enterprise accepted its
  contact request; otherwise 403 saying how it could see more; other enterprises never;
* the pipeline report (counts by district and target) and the standards import are staff's (admin, operator);
* the deal-list reason is added only for investors whose mandate targets pre-IPO companies (round
  ``pre_ipo`` or instrument ``ipo_loan``), and only for enterprises that disclose every figure behind it to
  that investor: a withheld figure never yields the reason (nor its absence telling anything, since
  the reason is then never computed from it).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from psycopg_pool import ConnectionPool

from api import disclosure
from api.deps import STAFF, Principal
from api.errors import ApiError, field_detail, forbidden, not_found
from api.security import record_confidential_views
from api.services.checks import authorize, codes, district_codes, district_name, invalid, party_id
from matching.domain.records import Mandate
from matching.errors import FieldError
from matching.explain.reasons import Reason
from matching.readiness import NEAR, Standards, panel, readiness_matrix, score_target
from matching.readiness import readiness_for as core_readiness
from store import resources as db
from store import standards as standards_db
from store.disclosure import PairFacts, pair_facts

logger = logging.getLogger(__name__)

READERS = ("admin", "operator", "data_scientist", "investor", "enterprise")
#: The disclosure groups readiness reads (revenue and profit; growth and R&D ratio).
NEEDED = (disclosure.FINANCIALS, disclosure.OPERATING)
COUNTS = ("met", "met_on_platform_data", "near", "far", "unknown")
STATUS_ZH = {"met": "已达标", "met_on_platform_data": "财务指标已达标（其余条件待核）", "near": "接近标准",
             "far": "差距较大", "unknown": "无法评估（缺少数据或标准未公开）"}
STATUS_EN = {"met": "Met", "met_on_platform_data": "Financial criteria met (others to be checked)",
             "near": "Close to the standard", "far": "Far from the standard",
             "unknown": "Cannot be assessed (no figures, or the standard is not public)"}
PLACEHOLDER_ZH = "待确认：该标准未公开或未能核实，数值待运营方确认"
PLACEHOLDER_EN = "To be confirmed: this standard is not public or not verified; operators will confirm it"
REASON_TARGET = "bse"
REASON_CODE = "readiness:bse"
REASON_ZH = "接近北交所上市标准"
REASON_EN = "Close to the BSE listing standard"


def readiness_for(conn: Any, enterprise: Mapping[str, Any] | int, *, targets: Sequence[str] | None = None,
                  standards: Standards | None = None) -> dict[str, Any]:
    """An enterprise's readiness document (no access check: the caller decides who may see it).

    Args:
        conn: a connection (the standards in force are read from it unless ``standards`` is given).
        enterprise: the enterprise's id, or its row (``id``, ``tier``, ``financials`` as the store returns it).
        targets: target codes (default: the next tier, then every board).
        standards: the standards to use (default: those in force).

    Returns:
        ``{"enterprise_id", "standards": {version, hash}, "targets": [...], "changes": [...]}``; each target as
        :meth:`matching.readiness.TargetReadiness.as_dict` with ``status_zh``/``status_en``.

    Raises:
        FieldError: an unknown target code. LookupError: no enterprise with that id.
    """
    row = db.get_enterprise(conn, enterprise) if isinstance(enterprise, int) else enterprise
    if row is None:
        raise LookupError(enterprise)
    std = standards or standards_db.current(conn)
    results = core_readiness(row, std, targets=targets)
    out = []
    for r in results:
        d = r.as_dict()
        d["status_zh"], d["status_en"] = STATUS_ZH[r.status], STATUS_EN[r.status]
        if d["placeholder"]:
            d["placeholder_zh"], d["placeholder_en"] = PLACEHOLDER_ZH, PLACEHOLDER_EN
        out.append(d)
    changes = sorted((c for d in out if d["applicable"] for c in d["changes"] if c["delta"] is not None),
                     key=lambda c: c["relative_gap"])[:5]
    return {"enterprise_id": row.get("id"), "tier": row.get("tier"),
            "standards": {"version": std.version, "hash": std.hash}, "near_threshold": NEAR,
            "targets": out, "changes": changes}


def enterprise_readiness(conn: Any, who: Principal, enterprise_id: int, target: str | None = None) -> dict[str, Any]:
    """``GET /v1/enterprises/{id}/readiness``: the readiness ``who`` may see (see the module docstring)."""
    authorize(who, *READERS)
    party_id("enterprise_id", enterprise_id)
    row = db.get_enterprise(conn, enterprise_id)
    if row is None:
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    decision = _decision(conn, who, row)
    hidden = [g for g in NEEDED if g in decision.withheld]
    if hidden:
        how_zh = f"，{decision.reveal_zh}" if decision.reveal_zh else ""
        how_en = f"; shown {decision.reveal}" if decision.reveal else ""
        raise forbidden(f"该企业未向您披露上市准备度所依据的财务数据{how_zh}",
                        f"Enterprise {enterprise_id} does not disclose to you the figures its readiness is computed "
                        f"from ({', '.join(hidden)}){how_en}")
    std = standards_db.current(conn)
    targets = None
    if target is not None:
        if target not in std.codes:
            raise invalid("target", target, f"未知的目标：{target}", f"unknown target; allowed: {', '.join(std.codes)}",
                          std.codes)
        targets = [target]
    out = readiness_for(conn, row, targets=targets, standards=std)
    view = {"id": enterprise_id, "withheld": [*decision.withheld], "disclosure": decision.as_dict()}
    record_confidential_views(conn, who, [view])  # what readiness shows derives from the figures: audited
    return out


def _decision(conn: Any, who: Principal, row: Mapping[str, Any]) -> disclosure.Decision:
    if who.role == "enterprise" and who.enterprise_id != row["id"]:
        raise forbidden(f"该密钥只能查看企业 {who.enterprise_id} 的上市准备度",
                        f"This key sees the readiness of enterprise {who.enterprise_id} only, not {row['id']}")
    accepted = (who.role == "investor" and who.investor_id is not None and row["id"] in db.contacts_accepted(
        conn, investor_id=who.investor_id, enterprise_ids=[row["id"]]))
    return disclosure.decide(role=who.role, tier=row["tier"], disclosure=row["disclosure"], enterprise_id=row["id"],
                             viewer_enterprise_id=who.enterprise_id, contact_accepted=accepted)


def pipeline(conn: Any, who: Principal, district: Sequence[str] | None = None,
             board: Sequence[str] | None = None) -> dict[str, Any]:
    """``GET /v1/reports/readiness``: per target, how many active enterprises are met / met on platform data /
    near (score ≥ 0.8) / far / unknown, in total and by district (staff only). Tier targets count the
    enterprises of the tier below only."""
    authorize(who, *STAFF)
    districts = district_codes(district) if district else []
    std = standards_db.current(conn)
    chosen = _targets(std, board)
    rows = standards_db.enterprise_figures(conn, districts=districts or None)
    matrix = readiness_matrix(panel(rows), std)
    by_district = np.array([r["district"] or "" for r in rows], dtype=object)
    out = []
    for code in chosen:
        ts = matrix[code]
        t = ts.target
        total: dict[str, int] = dict.fromkeys(COUNTS, 0)
        per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
        for status, d, ok in zip(ts.status, by_district, ts.applicable, strict=True):
            if ok:
                total[status] += 1
                per[d][status] += 1
        out.append({"target": code, "zh": t.zh, "en": t.en, "kind": t.kind,
                    "placeholder": any(c.placeholder for s in t.sets for c in s.criteria),
                    "assessed": int(ts.applicable.sum()), "counts": total,
                    "by_district": [{"district": d or None, "district_name": district_name(d) or "未填写", **c}
                                    for d, c in sorted(per.items())]})
    return {"standards": {"version": std.version, "hash": std.hash}, "near_threshold": NEAR,
            "districts": districts, "enterprises": len(rows), "targets": out}


def _targets(std: Standards, board: Sequence[str] | None) -> list[str]:
    """The targets asked for (separated as every other filter is, :func:`~matching.domain.vocab.split_list`), or
    every target; 422 naming the first unknown one."""
    return codes(board, lambda b: std.target(b).code, "board", std.codes) or list(std.codes)


def import_standards(conn: Any, who: Principal, filename: str | None, data: bytes) -> dict[str, Any]:
    """``POST /v1/imports/standards``: validate the whole file and make it the version in force (staff only);
    a 422 naming the bad criterion when nothing was written."""
    authorize(who, *STAFF)
    try:
        std, written = standards_db.import_standards(conn, data, imported_by=f"key:{who.key_shown}")
    except FieldError as exc:
        raise ApiError(422, "validation_error", f"标准文件不合法，未导入：{exc.field}",
                       f"{filename or 'upload'}: {exc}; nothing was imported",
                       fields=[field_detail(exc.field, exc.as_dict()["value"], exc.reason)]) from exc
    return {"version": std.version, "hash": std.hash, "targets": len(std.targets), "imported": written,
            "filename": filename}


def standards_versions(conn: Any, who: Principal) -> list[dict[str, Any]]:
    """The imported versions, newest first, then the shipped default (staff only)."""
    authorize(who, *STAFF)
    return [v.as_dict() for v in standards_db.versions(conn)]


def target_choices(conn: Any) -> list[tuple[str, str, str]]:
    """``(code, zh, en)`` of every target of the standards in force (for filters)."""
    return [(t.code, t.zh, t.en) for t in standards_db.current(conn).targets]


def targets_pre_ipo(mandate: Mandate | None) -> bool:
    """Whether a mandate targets pre-IPO companies (round ``pre_ipo`` or instrument ``ipo_loan``)."""
    return mandate is not None and ("pre_ipo" in mandate.stages or "ipo_loan" in mandate.instruments)


def listing_reasons(pool: ConnectionPool, who: Principal, investor_id: int | None, mandate: Mandate | None,
                    enterprise_ids: Sequence[int | None], facts: PairFacts | None = None) -> dict[int, Reason]:
    """The "接近北交所上市标准" reason per deal-list enterprise that is near or meets the BSE standard's
    financial criteria, for an investor targeting pre-IPO companies, where every figure behind it is
    disclosed to that investor (see the module docstring). Staff viewing an investor's list see it by the
    same rule as the investor (the list is the investor's). ``mandate`` is the one the list was ranked on
    (the matcher's market): a list for any other investor costs no database round trip. ``facts``: the
    figures and reveals already read for this request (:func:`api.reasons.read_facts`), used only when they
    are this investor's and cover every enterprise (else they are read here); the standards in force are
    read here either way."""
    ids = sorted({e for e in enterprise_ids if e is not None})
    if investor_id is None or not ids or not targets_pre_ipo(mandate):
        return {}
    with pool.connection() as conn:
        if (facts is None or facts.figures is None or facts.investor_id != investor_id
                or not facts.ids.issuperset(ids)):
            facts = pair_facts(conn, investor_id=investor_id, enterprise_ids=ids, figures=True)
        std = standards_db.current(conn)
    if REASON_TARGET not in std.codes:
        return {}
    rows, accepted = facts.figures or [], facts.accepted
    shown = [r for r in rows if not any(g in disclosure.decide(
        role="investor", tier=r["tier"], disclosure=r["disclosure"], enterprise_id=r["id"],
        contact_accepted=r["id"] in accepted).withheld for g in NEEDED)]
    if not shown:
        return {}
    ts = score_target(std.target(REASON_TARGET), panel(shown))
    out = {}
    for i, r in enumerate(shown):
        if ts.status[i] in ("met", "met_on_platform_data", "near"):
            out[int(r["id"])] = Reason(REASON_CODE, REASON_ZH, REASON_EN, 0.0, "fit",
                                       {"target": REASON_TARGET, "score": float(ts.score[i])})
    return out
