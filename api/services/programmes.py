"""Support programmes (扶持政策) for enterprises and staff: ``GET /v1/enterprises/{id}/programmes`` and
``GET /v1/programmes`` (:mod:`api.routes.programmes`), the console's panel and staff page, and the profile
export (:func:`programmes_for`, whose signature stays stable).

Eligibility is read from the database (:func:`store.programmes.enterprise_columns`), not the serving
snapshot, so a profile or an import just written counts. Programmes whose window has closed are not
shown to enterprises. Notices (the "told" record) are written by the import and by profile changes
(:func:`store.programmes.notify`); an enterprise reading its own programmes marks its notices read (staff
reading them, or the export, marks nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from api.deps import STAFF, Principal
from api.errors import MAX_ID, not_found
from api.services.checks import authorize, district_codes, own_enterprise, party_id, vocab_codes
from matching.domain import vocab
from matching.domain.programme import Programme
from matching.programmes.eligibility import ProgrammeEligibility, evaluate
from matching.rules.constraints import window_closed, window_open
from store import programmes as db

SAMPLE_NOTE = {"zh": "示例数据，非真实政策：条件与金额为演示虚构，请以主管部门正式发布的文件为准。",
               "en": "Sample data, not real policy: conditions and amounts are invented for the demonstration; "
                     "rely on the issuing department's official documents."}


def programmes_for(conn: Any, who: Principal, enterprise_id: int, *, mark_read: bool = True,
                   today: date | None = None) -> dict[str, Any]:
    """The programmes an enterprise qualifies for and its near misses with what is missing.

    Args:
        conn: a database connection.
        who: the caller: the enterprise's own key or staff (others get a 403).
        enterprise_id: the enterprise.
        mark_read: mark the enterprise's notices read when its own key asks (never for staff).
        today: the day of evaluation (default: today in China).

    Returns:
        ``{"enterprise_id", "as_of", "unread", "qualifies": [...], "near_misses": [...], "sample_data",
        "sample_note"}``; each programme with its kind labels, amounts, window, link, ``missing``
        (``rule``, ``zh``, ``en``, ``gap``, ``unknown``), ``notified_at`` and ``unread``.

    Raises:
        ApiError: 403 for another party's key, 404 for no such enterprise.
    """
    own_enterprise(who, party_id("enterprise_id", enterprise_id))
    if enterprise_id > MAX_ID or not db.enterprise_exists(conn, enterprise_id):
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    today = today or db.china_today()
    columns = db.enterprise_columns(conn, [enterprise_id])
    notices = db.notices_of(conn, enterprise_id)
    unread = sum(1 for _, read in notices.values() if read is None)
    qualifies: list[dict[str, Any]] = []
    near: list[dict[str, Any]] = []
    shown: list[Programme] = []
    for pid, programme in db.read_programmes(conn):
        if window_closed(programme.closes_on, today):
            continue
        result = evaluate(programme, columns, today)
        status = result.status(0)
        if status == "not_eligible":
            continue
        shown.append(programme)
        item = programme_view(pid, programme, today) | _fit(result, notices.get(pid))
        (qualifies if status == "qualifies" else near).append(item)
    if mark_read and who.role == "enterprise" and unread:
        db.mark_read(conn, enterprise_id)
    return {"enterprise_id": enterprise_id, "as_of": today, "unread": unread, "qualifies": qualifies,
            "near_misses": near, "sample_data": any(p.is_sample for p in shown),
            "sample_note": SAMPLE_NOTE if any(p.is_sample for p in shown) else None}


def overview(conn: Any, who: Principal, *, kinds: Sequence[str] | None = None,
             districts: Sequence[str] | None = None, today: date | None = None) -> dict[str, Any]:
    """Every programme (staff only) with how many enterprises qualify, are near misses and have been told.

    ``kinds`` (codes or labels) keeps programmes of those kinds; ``districts`` keeps those open to an
    enterprise of those districts (no district rule, or one of them named). 422 naming a bad filter value.
    """
    authorize(who, *STAFF)
    kind_codes = vocab_codes(kinds, vocab.PROGRAMME_KINDS, "kind")
    district_list = district_codes(districts)
    today = today or db.china_today()
    programmes = db.read_programmes(conn, kinds=kind_codes or None, districts=district_list or None)
    columns = db.enterprise_columns(conn) if programmes else None
    told = db.told_counts(conn)
    items = []
    for pid, programme in programmes:
        result = evaluate(programme, columns, today)  # type: ignore[arg-type]
        items.append(programme_view(pid, programme, today) | {
            "qualified": int(result.qualifies.sum()), "near_misses": int(result.near_miss.sum()),
            "told": told.get(pid, 0)})
    sample = any(p.is_sample for _, p in programmes)
    return {"as_of": today, "items": items, "total": len(items), "sample_data": sample,
            "sample_note": SAMPLE_NOTE if sample else None}


def window(programme: Programme, today: date) -> str:
    """``open``, ``upcoming`` or ``closed`` on ``today``."""
    if window_closed(programme.closes_on, today):
        return "closed"
    return "open" if window_open(programme.opens_on, programme.closes_on, today) else "upcoming"


def programme_view(pid: int, p: Programme, today: date) -> dict[str, Any]:
    """What every answer shows of a programme."""
    return {"id": pid, "ref": p.ref, "name": p.name, "issuer": p.issuer, "kind": p.kind,
            "kind_zh": vocab.PROGRAMME_KINDS.label(p.kind), "kind_en": vocab.PROGRAMME_KINDS.label(p.kind, "en"),
            "max_amount": p.max_amount, "currency": "CNY", "opens_on": p.opens_on, "closes_on": p.closes_on,
            "window": window(p, today), "link": p.link, "description": p.description, "is_sample": p.is_sample,
            "rules": rules_view(p)}


def rules_view(p: Programme) -> dict[str, Any]:
    """The rules a programme sets (lists as codes; bands as bounds), ``None``/empty where it sets none."""
    return {"districts": p.districts, "tiers": p.tiers, "boards": p.boards, "qualifications": p.qualifications,
            "industries": p.industries, "min_employees": p.min_employees, "max_employees": p.max_employees,
            "min_revenue": p.min_revenue, "max_revenue": p.max_revenue, "min_age_years": p.min_age_years,
            "max_age_years": p.max_age_years}


def _fit(result: ProgrammeEligibility, notice: tuple[Any, Any] | None) -> dict[str, Any]:
    return {"status": result.status(0),
            "missing": [{"rule": m.rule, "zh": m.zh, "en": m.en, "gap": m.gap, "unknown": m.unknown}
                        for m in result.missing(0)],
            "notified_at": notice[0] if notice else None, "unread": bool(notice and notice[1] is None)}
