"""Financing needs (the deals enterprises offer) and secondary listings (what S funds buy).

Access to needs: admin and operator do anything; an enterprise key creates, reads, lists and updates
its own enterprise's needs only; data scientists read and list every need; investors read and list the
live ones (open, in negotiation: a need is what the platform shows investors; a withdrawn or closed
one is a 404 for them). Secondary listings: admin and operator do anything; data scientists read; an
investor key creates and updates its own (the seller: a fund that is exiting) and reads its own, and an
S fund (the buyer) also reads others' live listings (open, under offer); enterprise keys get 403.
The rules are stated once, in :mod:`matching.rules.listing_visibility`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ConnDep, Principal, require_roles
from api.errors import MAX_ID, forbidden, not_found
from api.routes.resource_common import (
    READ_ERRORS,
    WRITE_ERRORS,
    Anyone,
    Limit,
    Offset,
    QueryCodes,
    Text,
    conflict,
    invalid,
    label,
    own_enterprise,
    own_investor,
    page,
    refused,
    values_of,
    vocab_codes,
)
from api.schemas.resources import (
    NeedCreate,
    NeedOut,
    NeedUpdate,
    Page,
    SecondaryCreate,
    SecondaryOut,
    SecondaryUpdate,
)
from matching.domain import vocab
from matching.rules import listing_visibility as visibility
from store import resources as db

router = APIRouter(prefix="/v1", tags=["needs and secondaries"])
RowId = Annotated[int, Path(gt=0)]
NeedWriters = Annotated[Principal, Depends(require_roles("admin", "operator", "enterprise"))]
SecondaryReaders = Annotated[Principal, Depends(require_roles("admin", "operator", "data_scientist", "investor"))]
SecondaryWriters = Annotated[Principal, Depends(require_roles("admin", "operator", "investor"))]

NEED_REQUIRED = ("instrument", "amount", "currency", "status")
SEC_REQUIRED = ("seller_name", "asking_price", "currency", "status")


# -- needs --------------------------------------------------------------------------------------------------
@router.post("/needs", status_code=201, response_model=NeedOut, responses=WRITE_ERRORS,
             summary="Create a financing need (staff, or an enterprise for itself)")
def create_need(body: NeedCreate, conn: ConnDep, who: NeedWriters) -> dict[str, Any]:
    """A new need; an enterprise key's ``enterprise_id`` defaults to its own."""
    enterprise_id = body.enterprise_id or who.enterprise_id
    if enterprise_id is None:
        raise invalid("enterprise_id", None, "缺少 enterprise_id", "enterprise_id is required for staff keys")
    own_enterprise(who, enterprise_id)
    if not db.exists(conn, table="enterprises", row_id=enterprise_id):
        raise invalid("enterprise_id", enterprise_id, "企业不存在", f"no enterprise with id {enterprise_id}")
    values = values_of(body, required=NEED_REQUIRED, clear={"use_of_funds": ""})
    values["enterprise_id"] = enterprise_id
    values.setdefault("ref", f"api-{uuid.uuid4().hex[:12]}")
    _dates_rule(values)
    try:
        new_id = db.create_need(conn, values=values)
    except db.Duplicate as exc:
        raise conflict(exc, "融资需求", "financing need") from exc
    except db.Invalid as exc:
        raise refused(exc) from exc
    return _need(conn, new_id)


@router.get("/needs", response_model=Page[NeedOut], responses=READ_ERRORS,
            summary="List financing needs (an enterprise key: its own)")
def list_needs(conn: ConnDep, who: Anyone,
               enterprise_id: Annotated[int | None, Query(gt=0, le=MAX_ID,
                                                          description="One enterprise's needs")] = None,
               instrument: QueryCodes = None, status: QueryCodes = None, round: QueryCodes = None, q: Text = None,
               limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Needs in id order; filters take codes or labels (``instrument=股权融资``)."""
    if who.role == "enterprise":
        if enterprise_id not in (None, who.enterprise_id):
            own_enterprise(who, enterprise_id)  # type: ignore[arg-type]
        enterprise_id = who.enterprise_id
    statuses = _within(vocab_codes(status, vocab.NEED_STATUSES, "status"), visibility.need_statuses(who.role),
                       "需求", "needs")
    rows, total = db.list_needs(
        conn, enterprise_id=enterprise_id, instrument=vocab_codes(instrument, vocab.INSTRUMENTS, "instrument"),
        status=statuses, round_=vocab_codes(round, vocab.ROUNDS, "round"), q=q, limit=limit, offset=offset)
    return page([_need_view(r) for r in rows], total, limit, offset)


@router.get("/needs/{need_id}", response_model=NeedOut, responses=READ_ERRORS, summary="A financing need")
def get_need(need_id: RowId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Staff, data scientists, investors (a live need: open or in negotiation), and the enterprise whose need it is."""
    row = db.get_need(conn, need_id)
    live = visibility.need_statuses(who.role)
    if row is None or (live is not None and row["status"] not in live):  # a withdrawn need is gone for investors
        raise not_found("融资需求", "financing need", need_id, "need_id")
    if who.role == "enterprise":
        own_enterprise(who, row["enterprise_id"])
    return _need_view(row)


@router.patch("/needs/{need_id}", response_model=NeedOut, responses=WRITE_ERRORS,
              summary="Update a financing need (staff, or its enterprise)")
def update_need(need_id: RowId, body: NeedUpdate, conn: ConnDep, who: NeedWriters) -> dict[str, Any]:
    """Change the fields sent (the enterprise and ref of a need do not change)."""
    row = db.get_need(conn, need_id)
    if row is None:
        raise not_found("融资需求", "financing need", need_id, "need_id")
    own_enterprise(who, row["enterprise_id"])
    values = values_of(body, required=NEED_REQUIRED, clear={"use_of_funds": ""})
    _dates_rule({**row, **values})
    try:
        db.update_need(conn, need_id=need_id, values=values)
    except db.Invalid as exc:
        raise refused(exc) from exc
    return _need(conn, need_id)


# -- secondaries ------------------------------------------------------------------------------------------
@router.post("/secondaries", status_code=201, response_model=SecondaryOut, responses=WRITE_ERRORS,
             summary="List a fund interest or old shares for sale (staff, or the selling investor)")
def create_secondary(body: SecondaryCreate, conn: ConnDep, who: SecondaryWriters) -> dict[str, Any]:
    """A new secondary listing; an investor key is the seller (``seller_investor_id`` defaults to it)."""
    values = values_of(body, required=SEC_REQUIRED, clear={"description": ""})
    seller = body.seller_investor_id or who.investor_id
    if seller is not None:
        own_investor(who, seller)
        if not db.exists(conn, table="investors", row_id=seller):
            raise invalid("seller_investor_id", seller, "投资机构不存在", f"no investor with id {seller}")
        values["seller_investor_id"] = seller
    if body.enterprise_id is not None and not db.exists(conn, table="enterprises", row_id=body.enterprise_id):
        raise invalid("enterprise_id", body.enterprise_id, "企业不存在", f"no enterprise with id {body.enterprise_id}")
    _kind_rule(values)
    values.setdefault("ref", f"api-{uuid.uuid4().hex[:12]}")
    try:
        new_id = db.create_secondary(conn, values=values)
    except db.Duplicate as exc:
        raise conflict(exc, "转让项目", "secondary listing") from exc
    except db.Invalid as exc:
        raise refused(exc) from exc
    return _secondary(conn, new_id)


@router.get("/secondaries", response_model=Page[SecondaryOut], responses=READ_ERRORS,
            summary="List secondary listings (staff, data scientists, investors)")
def list_secondaries(conn: ConnDep, who: SecondaryReaders, kind: QueryCodes = None, status: QueryCodes = None,
                     enterprise_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
                     seller_investor_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None, q: Text = None,
                     limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Listings in id order, as the listing visibility rules allow; filters take codes or labels (``kind=老股``)."""
    scope = _secondary_scope(conn, who)
    statuses = vocab_codes(status, vocab.SECONDARY_STATUSES, "status")
    if scope.statuses and seller_investor_id != who.investor_id:  # a buyer: others' listings while live only
        _within(statuses, scope.statuses, "转让项目", "secondary listings")
    rows, total = db.list_secondaries(
        conn, kind=vocab_codes(kind, vocab.SECONDARY_KINDS, "kind"), status=statuses, enterprise_id=enterprise_id,
        seller_investor_id=seller_investor_id, q=q, limit=limit, offset=offset, scope=scope)
    return page([_secondary_view(r) for r in rows], total, limit, offset)


@router.get("/secondaries/{secondary_id}", response_model=SecondaryOut, responses=READ_ERRORS,
            summary="A secondary listing")
def get_secondary(secondary_id: RowId, conn: ConnDep, who: SecondaryReaders) -> dict[str, Any]:
    """One listing: staff, data scientists, its seller, and S funds while it is live."""
    row = db.get_secondary(conn, secondary_id)
    scope = _secondary_scope(conn, who)
    if row is not None and not scope.allows(seller_investor_id=row["seller_investor_id"], status=row["status"]):
        if scope.statuses:  # a buyer: a listing no longer live is gone
            raise not_found("转让项目", "secondary listing", secondary_id, "secondary_id")
        raise forbidden("二级转让项目仅向S基金（二级份额转让基金）及卖方展示",
                        f"Secondary listings are shown to S funds (investor_type s_fund) and their seller; investor "
                        f"{who.investor_id} is neither for listing {secondary_id}")
    if row is None:
        raise not_found("转让项目", "secondary listing", secondary_id, "secondary_id")
    return _secondary_view(row)


@router.patch("/secondaries/{secondary_id}", response_model=SecondaryOut, responses=WRITE_ERRORS,
              summary="Update a secondary listing (staff, or the selling investor)")
def update_secondary(secondary_id: RowId, body: SecondaryUpdate, conn: ConnDep, who: SecondaryWriters
                     ) -> dict[str, Any]:
    """Change the fields sent (price, status, …)."""
    row = db.get_secondary(conn, secondary_id)
    if row is None:
        raise not_found("转让项目", "secondary listing", secondary_id, "secondary_id")
    if not who.is_staff and row["seller_investor_id"] != who.investor_id:
        raise forbidden("只有卖方可以修改该转让项目", f"Only the seller (investor {row['seller_investor_id']}) or "
                        "staff may change this listing")
    values = values_of(body, required=SEC_REQUIRED, clear={"description": ""})
    _kind_rule({**row, **values})
    try:
        db.update_secondary(conn, secondary_id=secondary_id, values=values)
    except db.Invalid as exc:
        raise refused(exc) from exc
    return _secondary(conn, secondary_id)


# -- helpers ---------------------------------------------------------------------------------------------
def _within(asked: list[str], allowed: tuple[str, ...] | None, what_zh: str, what_en: str) -> list[str]:
    """The statuses to list: those asked (422 for one the caller may not see), or every one allowed."""
    if allowed is None:
        return asked
    hidden = [s for s in asked if s not in allowed]
    if hidden:
        raise invalid("status", asked, f"该密钥只能查看状态为 {'、'.join(allowed)} 的{what_zh}",
                      f"this key lists {what_en} with status {', '.join(allowed)} only, not {', '.join(hidden)}",
                      allowed=list(allowed))
    return asked or list(allowed)


def _secondary_scope(conn: Any, who: Principal) -> visibility.SecondaryScope:
    investor = db.get_investor(conn, who.investor_id) if who.role == "investor" and who.investor_id else None
    return visibility.secondary_scope(who.role, investor_id=who.investor_id,
                                      investor_type=investor["investor_type"] if investor else None)


def _dates_rule(values: dict[str, Any]) -> None:
    opened, closes = values.get("opened_on"), values.get("closes_on")
    if opened is not None and closes is not None and closes < opened:
        raise invalid("closes_on", closes.isoformat(), "截止日期不能早于开始日期",
                      f"closes_on {closes} is before opened_on {opened}")


def _kind_rule(values: dict[str, Any]) -> None:
    if values.get("kind") == "old_shares" and values.get("enterprise_id") is None:
        raise invalid("enterprise_id", None, "老股转让须填写标的企业", "old_shares listings need enterprise_id")
    if values.get("kind") == "fund_interest" and not values.get("fund_name"):
        raise invalid("fund_name", values.get("fund_name"), "基金份额转让须填写基金名称",
                      "fund_interest listings need fund_name")


def _need(conn: Any, need_id: int) -> dict[str, Any]:
    row = db.get_need(conn, need_id)
    assert row is not None
    return _need_view(row)


def _need_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "instrument_zh": label(vocab.INSTRUMENTS, row["instrument"])}


def _secondary(conn: Any, secondary_id: int) -> dict[str, Any]:
    row = db.get_secondary(conn, secondary_id)
    if row is None:
        raise not_found("转让项目", "secondary listing", secondary_id, "secondary_id")
    return _secondary_view(row)


def _secondary_view(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "kind_zh": label(vocab.SECONDARY_KINDS, row["kind"])}
