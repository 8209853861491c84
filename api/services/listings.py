"""Financing needs (the deals enterprises offer) and secondary listings (what S funds buy), for the API's
routes (:mod:`api.routes.listings`).

Needs: staff do anything; an enterprise key creates, reads, lists and updates its own enterprise's needs
only; data scientists read every need; investors read the live ones (open, in negotiation; another is a
404 for them). Secondary listings: staff do anything; data scientists read; an investor key creates and
updates its own (the seller) and reads its own, and an S fund (the buyer) also reads others' live
listings; enterprise keys get 403. Who sees what is stated once, in :mod:`matching.rules.listing_visibility`.
Each operation checks the principal itself; a key or constraint the store refuses raises
:class:`store.tables.Duplicate` or :class:`~store.tables.Invalid` (409, 422: :mod:`api.errors`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from api.deps import ROLES, STAFF, Principal
from api.errors import forbidden, not_found
from api.schemas.listings import NeedCreate, NeedUpdate, SecondaryCreate, SecondaryUpdate
from api.services.checks import authorize, invalid, label, own_enterprise, own_investor, values_of, vocab_codes
from api.services.crossfield import check_need, check_secondary
from matching.domain import vocab
from matching.rules import listing_visibility as visibility
from store import resources as db

NEED_WRITERS = (*STAFF, "enterprise")
SECONDARY_READERS = (*STAFF, "data_scientist", "investor")
SECONDARY_WRITERS = (*STAFF, "investor")
NEED_REQUIRED = ("instrument", "amount", "currency", "status")
SEC_REQUIRED = ("seller_name", "asking_price", "currency", "status")


# -- needs --------------------------------------------------------------------------------------------------
def create_need(conn: Any, who: Principal, body: NeedCreate) -> dict[str, Any]:
    """A new need; an enterprise key's ``enterprise_id`` defaults to its own."""
    authorize(who, *NEED_WRITERS)
    enterprise_id = body.enterprise_id or who.enterprise_id
    if enterprise_id is None:
        raise invalid("enterprise_id", None, "缺少 enterprise_id", "enterprise_id is required for staff keys")
    own_enterprise(who, enterprise_id)
    if not db.exists(conn, table="enterprises", row_id=enterprise_id):
        raise invalid("enterprise_id", enterprise_id, "企业不存在", f"no enterprise with id {enterprise_id}")
    values = values_of(body, required=NEED_REQUIRED, clear={"use_of_funds": ""})
    values["enterprise_id"] = enterprise_id
    values.setdefault("ref", f"api-{uuid.uuid4().hex[:12]}")
    check_need(values)
    return _need(conn, db.create_need(conn, values=values))


def need_page(conn: Any, who: Principal, *, enterprise_id: int | None = None,
              instrument: Sequence[str] | None = None, status: Sequence[str] | None = None,
              round_: Sequence[str] | None = None, q: str | None = None, limit: int = 50, offset: int = 0
              ) -> tuple[list[dict[str, Any]], int]:
    """A page of needs in id order as ``who`` may see them, and the total; filters take codes or labels."""
    authorize(who, *ROLES)
    if who.role == "enterprise":
        if enterprise_id is not None and enterprise_id != who.enterprise_id:
            own_enterprise(who, enterprise_id)
        enterprise_id = who.enterprise_id
    statuses = _within(vocab_codes(status, vocab.NEED_STATUSES, "status"), visibility.need_statuses(who.role),
                       "需求", "needs")
    rows, total = db.list_needs(
        conn, enterprise_id=enterprise_id, instrument=vocab_codes(instrument, vocab.INSTRUMENTS, "instrument"),
        status=statuses, round_=vocab_codes(round_, vocab.ROUNDS, "round"), q=q, limit=limit, offset=offset)
    return [_need_view(r) for r in rows], total


def get_need(conn: Any, who: Principal, need_id: int) -> dict[str, Any]:
    """Staff, data scientists, investors (a live need: open or in negotiation), and the enterprise whose need it is."""
    authorize(who, *ROLES)
    row = db.get_need(conn, need_id)
    live = visibility.need_statuses(who.role)
    if row is None or (live is not None and row["status"] not in live):  # a withdrawn need is gone for investors
        raise not_found("融资需求", "financing need", need_id, "need_id")
    if who.role == "enterprise":
        own_enterprise(who, row["enterprise_id"])
    return _need_view(row)


def update_need(conn: Any, who: Principal, need_id: int, body: NeedUpdate) -> dict[str, Any]:
    """Change the fields sent (the enterprise and ref of a need do not change)."""
    authorize(who, *NEED_WRITERS)
    row = db.get_need(conn, need_id)
    if row is None:
        raise not_found("融资需求", "financing need", need_id, "need_id")
    own_enterprise(who, row["enterprise_id"])
    values = values_of(body, required=NEED_REQUIRED, clear={"use_of_funds": ""})
    check_need({**row, **values})
    db.update_need(conn, need_id=need_id, values=values)
    return _need(conn, need_id)


# -- secondaries ------------------------------------------------------------------------------------------
def create_secondary(conn: Any, who: Principal, body: SecondaryCreate) -> dict[str, Any]:
    """A new secondary listing; an investor key is the seller (``seller_investor_id`` defaults to it)."""
    authorize(who, *SECONDARY_WRITERS)
    values = values_of(body, required=SEC_REQUIRED, clear={"description": ""})
    seller = body.seller_investor_id or who.investor_id
    if seller is not None:
        own_investor(who, seller)
        if not db.exists(conn, table="investors", row_id=seller):
            raise invalid("seller_investor_id", seller, "投资机构不存在", f"no investor with id {seller}")
        values["seller_investor_id"] = seller
    if body.enterprise_id is not None and not db.exists(conn, table="enterprises", row_id=body.enterprise_id):
        raise invalid("enterprise_id", body.enterprise_id, "企业不存在", f"no enterprise with id {body.enterprise_id}")
    check_secondary(values)
    values.setdefault("ref", f"api-{uuid.uuid4().hex[:12]}")
    return _secondary(conn, db.create_secondary(conn, values=values))


def secondary_page(conn: Any, who: Principal, *, kind: Sequence[str] | None = None,
                   status: Sequence[str] | None = None, enterprise_id: int | None = None,
                   seller_investor_id: int | None = None, q: str | None = None, limit: int = 50, offset: int = 0
                   ) -> tuple[list[dict[str, Any]], int]:
    """A page of listings in id order as the listing visibility rules allow, and the total."""
    authorize(who, *SECONDARY_READERS)
    scope = _secondary_scope(conn, who)
    statuses = vocab_codes(status, vocab.SECONDARY_STATUSES, "status")
    if scope.statuses and seller_investor_id != who.investor_id:  # a buyer: others' listings while live only
        _within(statuses, scope.statuses, "转让项目", "secondary listings")
    rows, total = db.list_secondaries(
        conn, kind=vocab_codes(kind, vocab.SECONDARY_KINDS, "kind"), status=statuses, enterprise_id=enterprise_id,
        seller_investor_id=seller_investor_id, q=q, limit=limit, offset=offset, scope=scope)
    return [_secondary_view(r) for r in rows], total


def get_secondary(conn: Any, who: Principal, secondary_id: int) -> dict[str, Any]:
    """One listing: staff, data scientists, its seller, and S funds while it is live."""
    authorize(who, *SECONDARY_READERS)
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


def update_secondary(conn: Any, who: Principal, secondary_id: int, body: SecondaryUpdate) -> dict[str, Any]:
    """Change the fields sent (price, status, …): staff, or the selling investor."""
    authorize(who, *SECONDARY_WRITERS)
    row = db.get_secondary(conn, secondary_id)
    if row is None:
        raise not_found("转让项目", "secondary listing", secondary_id, "secondary_id")
    if not who.is_staff and row["seller_investor_id"] != who.investor_id:
        raise forbidden("只有卖方可以修改该转让项目", f"Only the seller (investor {row['seller_investor_id']}) or "
                        "staff may change this listing")
    values = values_of(body, required=SEC_REQUIRED, clear={"description": ""})
    check_secondary({**row, **values})
    db.update_secondary(conn, secondary_id=secondary_id, values=values)
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
