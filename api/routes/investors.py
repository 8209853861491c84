"""Investors and their versioned mandates.

A mandate is never edited in place: ``PUT /v1/investors/{id}/mandate`` (the whole mandate) and
``PATCH`` (the fields sent, the rest copied from the current version) store the next version, valid
from now, and close the current one; ``GET /v1/investors/{id}/mandates`` shows the current version
and the history. Served lists and training read the version valid at each time.

Access: admin and operator create and update any investor; an investor key reads and updates its own
investor and mandate (not ``investor_type``, ``state_fund_level`` or ``amac_code``, which the platform
verifies); enterprise keys read and list investors' public profiles (the current mandate without its
excluded enterprises; no history); data scientists read everything; investor keys may not read other
investors.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from api.deps import ConnDep, Principal, require_roles
from api.errors import forbidden, not_found
from api.routes.resource_common import (
    READ_ERRORS,
    WRITE_ERRORS,
    Anyone,
    Limit,
    Offset,
    QueryCodes,
    StaffOnly,
    Text,
    conflict,
    district_codes,
    district_name,
    invalid,
    label,
    own_investor,
    page,
    refused,
    staff_only_fields,
    values_of,
    vocab_codes,
)
from api.schemas.resources import (
    InvestorCreate,
    InvestorOut,
    InvestorUpdate,
    MandateHistory,
    MandateIn,
    MandateOut,
    MandatePatch,
    Page,
)
from matching.domain import vocab
from store import resources as db

router = APIRouter(prefix="/v1", tags=["investors"])
InvestorId = Annotated[int, Path(gt=0)]
Readers = Annotated[Principal, Depends(require_roles("admin", "operator", "data_scientist", "enterprise",
                                                     "investor"))]

REQUIRED = ("name", "investor_type", "status", "country")
CLEAR = {"description": ""}
STAFF_FIELDS = ("investor_type", "state_fund_level", "amac_code")
MANDATE_REQUIRED = ("currency",)
MANDATE_CLEAR: dict[str, Any] = {f: [] for f in ("sectors", "sectors_raw", "stages", "regions", "districts", "tiers",
                                                 "boards", "instruments", "excluded_sectors", "excluded_enterprises")}
MANDATE_CLEAR["thesis"] = ""


@router.post("/investors", status_code=201, response_model=InvestorOut, responses=WRITE_ERRORS,
             summary="Create an investor, optionally with its first mandate (admin, operator)")
def create_investor(body: InvestorCreate, conn: ConnDep, who: StaffOnly) -> dict[str, Any]:
    """A new investor; 409 when its source + external id or AMAC code exists."""
    values = values_of(body, required=REQUIRED, clear=CLEAR, skip=("mandate",))
    values["source"] = body.source
    values["investor_type"] = body.investor_type
    values.setdefault("external_id", body.amac_code or uuid.uuid4().hex[:16])
    _state_fund_rule(values)
    mandate = _mandate_values(body.mandate.model_dump()) if body.mandate is not None else None
    try:
        new_id = db.create_investor(conn, values=values, mandate=mandate)
    except db.Duplicate as exc:
        raise conflict(exc, "投资机构", "investor") from exc
    except db.Invalid as exc:
        raise refused(exc) from exc
    return _read(conn, who, new_id)


@router.get("/investors", response_model=Page[InvestorOut], responses=READ_ERRORS,
            summary="List investors (staff, data scientists, enterprises: public profiles)")
def list_investors(conn: ConnDep, who: Readers, investor_type: QueryCodes = None, district: QueryCodes = None,
                   status: QueryCodes = None, q: Text = None, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Investors in id order with their current mandates; filters take codes or labels."""
    if who.role == "investor":
        raise forbidden("投资机构密钥不能浏览其他投资机构", "Investor keys may read their own investor only "
                        f"(GET /v1/investors/{who.investor_id})")
    rows, total = db.list_investors(
        conn, investor_type=vocab_codes(investor_type, vocab.INVESTOR_TYPES, "investor_type"),
        district=district_codes(district), status=vocab_codes(status, vocab.INVESTOR_STATUSES, "status"), q=q,
        limit=limit, offset=offset)
    return page([_view(r, who) for r in rows], total, limit, offset)


@router.get("/investors/{investor_id}", response_model=InvestorOut, responses=READ_ERRORS,
            summary="An investor with its current mandate")
def get_investor(investor_id: InvestorId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Staff, data scientists, the investor itself, and enterprises (public profile)."""
    if who.role == "investor":
        own_investor(who, investor_id)
    return _read(conn, who, investor_id)


@router.patch("/investors/{investor_id}", response_model=InvestorOut, responses=WRITE_ERRORS,
              summary="Update an investor (staff, or its own key)")
def update_investor(investor_id: InvestorId, body: InvestorUpdate, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Change the fields sent (the mandate has its own routes and versions)."""
    own_investor(who, investor_id)
    values = values_of(body, required=REQUIRED, clear=CLEAR)
    staff_only_fields(who, values, STAFF_FIELDS)
    current = db.get_investor(conn, investor_id)
    if current is None:
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    _state_fund_rule({**current, **values})
    try:
        db.update_investor(conn, investor_id=investor_id, values=values)
    except db.Duplicate as exc:
        raise conflict(exc, "投资机构", "investor") from exc
    except db.Invalid as exc:
        raise refused(exc) from exc
    return _read(conn, who, investor_id)


@router.get("/investors/{investor_id}/mandates", response_model=MandateHistory, responses=READ_ERRORS,
            summary="The current mandate and its history (staff, data scientists, the investor itself)")
def mandate_history(investor_id: InvestorId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Every version, newest first; ``current`` is the one in force (``valid_to`` null)."""
    if who.role != "data_scientist":
        own_investor(who, investor_id)
    if not db.exists(conn, table="investors", row_id=investor_id):
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    versions = db.mandate_versions(conn, investor_id=investor_id)
    return {"investor_id": investor_id, "current": next((v for v in versions if v["valid_to"] is None), None),
            "history": versions}


@router.put("/investors/{investor_id}/mandate", status_code=201, response_model=MandateOut, responses=WRITE_ERRORS,
            summary="Replace the mandate: stores the next version (staff, or the investor itself)")
def put_mandate(investor_id: InvestorId, body: MandateIn, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """The whole mandate as the next version; the current one is kept as history."""
    own_investor(who, investor_id)
    return _new_version(conn, investor_id, _mandate_values(body.model_dump()), merge=False)


@router.patch("/investors/{investor_id}/mandate", status_code=201, response_model=MandateOut,
              responses=WRITE_ERRORS, summary="Change some mandate fields: stores the next version")
def patch_mandate(investor_id: InvestorId, body: MandatePatch, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """The fields sent over a copy of the current version, stored as the next version."""
    own_investor(who, investor_id)
    values = values_of(body, required=MANDATE_REQUIRED, clear=MANDATE_CLEAR)
    current = db.current_mandates(conn, [investor_id]).get(investor_id, {})
    _ticket_rule({**current, **values})
    return _new_version(conn, investor_id, _mandate_values(values), merge=True)


# -- helpers ---------------------------------------------------------------------------------------------
def _new_version(conn: Any, investor_id: int, values: dict[str, Any], *, merge: bool) -> dict[str, Any]:
    _ticket_rule(values)
    try:
        new = db.new_mandate_version(conn, investor_id=investor_id, mandate=values, merge=merge)
    except db.Invalid as exc:
        raise refused(exc) from exc
    if new is None:
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    return new


def _mandate_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in db.MANDATE_FIELDS}


def _ticket_rule(values: dict[str, Any]) -> None:
    lo, hi = values.get("ticket_min"), values.get("ticket_max")
    if lo is not None and hi is not None and lo > hi:
        raise invalid("ticket_min", lo, "单笔投资下限不能高于上限",
                      f"ticket_min {lo:,.0f} is above ticket_max {hi:,.0f}; the range must be min ≤ max")


def _state_fund_rule(values: dict[str, Any]) -> None:
    is_state = values.get("investor_type") == "state_fund"
    level = values.get("state_fund_level")
    if is_state and level is None:
        raise invalid("state_fund_level", None, "国有/政府引导基金须填写国资层级",
                      "state funds need state_fund_level", vocab.STATE_FUND_LEVELS.codes)
    if not is_state and level is not None:
        raise invalid("state_fund_level", level, "只有国有/政府引导基金填写国资层级",
                      f"state_fund_level applies to investor_type state_fund only, not {values.get('investor_type')}")


def _read(conn: Any, who: Principal, investor_id: int) -> dict[str, Any]:
    row = db.get_investor(conn, investor_id)
    if row is None:
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    return _view(row, who)


def _view(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    out = dict(row)
    out["investor_type_zh"] = label(vocab.INVESTOR_TYPES, row["investor_type"])
    out["district_name"] = district_name(row["district"])
    private = not (who.is_staff or who.role == "data_scientist" or who.investor_id == row["id"])
    if private and out.get("mandate") is not None:
        out["mandate"] = {**out["mandate"], "excluded_enterprises": None}  # whom it refuses is its own business
    return out
