"""Investors and their versioned mandates, for the API's investor routes (:mod:`api.routes.investors`).

A mandate is never edited in place: a new mandate (whole, or the fields sent over a copy of the current
version) is stored as the next version, valid from now, and the current one is closed. Staff create and
update any investor; an investor key reads and updates its own investor and mandate (not
``investor_type``, ``state_fund_level`` or ``amac_code``, which the platform verifies); enterprise keys
read investors' public profiles (the current mandate without its excluded enterprises); data scientists
read everything. Each operation checks the principal itself. A key or constraint the store refuses
raises :class:`store.tables.Duplicate` or :class:`~store.tables.Invalid` (409, 422: :mod:`api.errors`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from api.deps import ROLES, STAFF, Principal
from api.errors import forbidden, not_found
from api.schemas.investors import InvestorCreate, InvestorUpdate, MandateIn, MandatePatch
from api.services.checks import (
    authorize,
    district_codes,
    district_name,
    label,
    own_investor,
    party_id,
    staff_only_fields,
    values_of,
    vocab_codes,
)
from api.services.crossfield import check_investor, check_mandate
from matching.domain import vocab
from store import resources as db

#: Roles that list investors (investor keys read their own investor only).
LISTERS = ("admin", "operator", "data_scientist", "enterprise")
REQUIRED = ("name", "investor_type", "status", "country")
CLEAR = {"description": ""}
STAFF_FIELDS = ("investor_type", "state_fund_level", "amac_code")
MANDATE_REQUIRED = ("currency",)
MANDATE_CLEAR: dict[str, Any] = {f: [] for f in ("sectors", "sectors_raw", "stages", "regions", "districts", "tiers",
                                                 "boards", "instruments", "excluded_sectors", "excluded_enterprises")}
MANDATE_CLEAR["thesis"] = ""


def create(conn: Any, who: Principal, body: InvestorCreate) -> dict[str, Any]:
    """A new investor, with its first mandate when sent (staff)."""
    authorize(who, *STAFF)
    values = values_of(body, required=REQUIRED, clear=CLEAR, skip=("mandate",))
    values["source"] = body.source
    values["investor_type"] = body.investor_type
    values.setdefault("external_id", body.amac_code or uuid.uuid4().hex[:16])
    check_investor(values)
    mandate = _mandate_values(body.mandate.model_dump()) if body.mandate is not None else None
    return read(conn, who, db.create_investor(conn, values=values, mandate=mandate))


def page(conn: Any, who: Principal, *, investor_type: Sequence[str] | None = None,
         district: Sequence[str] | None = None, status: Sequence[str] | None = None, q: str | None = None,
         limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of investors in id order with their current mandates (as ``who`` may see them), and the total.
    Filters take codes or labels, repeated or comma-separated."""
    if who.role == "investor":
        raise forbidden("投资机构密钥不能浏览其他投资机构", "Investor keys may read their own investor only "
                        f"(GET /v1/investors/{who.investor_id})")
    authorize(who, *LISTERS)
    rows, total = db.list_investors(
        conn, investor_type=vocab_codes(investor_type, vocab.INVESTOR_TYPES, "investor_type"),
        district=district_codes(district), status=vocab_codes(status, vocab.INVESTOR_STATUSES, "status"), q=q,
        limit=limit, offset=offset)
    return [_view(r, who) for r in rows], total


def get(conn: Any, who: Principal, investor_id: int) -> dict[str, Any]:
    """One investor: staff, data scientists, the investor itself, and enterprises (public profile)."""
    authorize(who, *ROLES)
    party_id("investor_id", investor_id)
    if who.role == "investor":
        own_investor(who, investor_id)
    return read(conn, who, investor_id)


def update(conn: Any, who: Principal, investor_id: int, body: InvestorUpdate) -> dict[str, Any]:
    """Change the fields sent (staff, or its own key for the fields it may change)."""
    own_investor(who, party_id("investor_id", investor_id))
    values = values_of(body, required=REQUIRED, clear=CLEAR)
    staff_only_fields(who, values, STAFF_FIELDS)
    current = db.get_investor(conn, investor_id)
    if current is None:
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    check_investor({**current, **values})
    db.update_investor(conn, investor_id=investor_id, values=values)
    return read(conn, who, investor_id)


def mandate_history(conn: Any, who: Principal, investor_id: int) -> dict[str, Any]:
    """Every mandate version, newest first; ``current`` is the one in force (``valid_to`` null)."""
    authorize(who, *ROLES)
    if who.role != "data_scientist":
        own_investor(who, party_id("investor_id", investor_id))
    if not db.exists(conn, table="investors", row_id=investor_id):
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    versions = db.mandate_versions(conn, investor_id=investor_id)
    return {"investor_id": investor_id, "current": next((v for v in versions if v["valid_to"] is None), None),
            "history": versions}


def replace_mandate(conn: Any, who: Principal, investor_id: int, body: MandateIn) -> dict[str, Any]:
    """The whole mandate as the next version; the current one is kept as history."""
    own_investor(who, party_id("investor_id", investor_id))
    return _new_version(conn, investor_id, _mandate_values(body.model_dump()), merge=False)


def patch_mandate(conn: Any, who: Principal, investor_id: int, body: MandatePatch) -> dict[str, Any]:
    """The fields sent over a copy of the current version, stored as the next version."""
    own_investor(who, party_id("investor_id", investor_id))
    values = values_of(body, required=MANDATE_REQUIRED, clear=MANDATE_CLEAR)
    current = db.current_mandates(conn, [investor_id]).get(investor_id, {})
    check_mandate({**current, **values})
    return _new_version(conn, investor_id, _mandate_values(values), merge=True)


def read(conn: Any, who: Principal, investor_id: int) -> dict[str, Any]:
    """The investor as ``who`` may see it; 404 when there is none."""
    row = db.get_investor(conn, investor_id)
    if row is None:
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    return _view(row, who)


# -- helpers ---------------------------------------------------------------------------------------------
def _new_version(conn: Any, investor_id: int, values: dict[str, Any], *, merge: bool) -> dict[str, Any]:
    check_mandate(values)
    new = db.new_mandate_version(conn, investor_id=investor_id, mandate=values, merge=merge)
    if new is None:
        raise not_found("投资机构", "investor", investor_id, "investor_id")
    return new


def _mandate_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in db.MANDATE_FIELDS}


def _view(row: dict[str, Any], who: Principal) -> dict[str, Any]:
    out = dict(row)
    out["investor_type_zh"] = label(vocab.INVESTOR_TYPES, row["investor_type"])
    out["district_name"] = district_name(row["district"])
    private = not (who.is_staff or who.role == "data_scientist" or who.investor_id == row["id"])
    if private and out.get("mandate") is not None:
        out["mandate"] = {**out["mandate"], "excluded_enterprises": None}  # whom it refuses is its own business
    return out
