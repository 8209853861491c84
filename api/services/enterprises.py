"""Enterprises with their yearly financials and credential claims, for the API's enterprise routes
(:mod:`api.routes.enterprises`) and the console's profile page: each shown as far as the caller may see it
(:mod:`api.disclosure`).

Staff create and update any enterprise; an enterprise key updates its own (not its ``status``, which the
platform sets; its ``tier``, ``boards`` and ``qualifications`` are stored as pending claims until staff
verify them, each decision audited). A key or constraint the store refuses raises
:class:`store.tables.Duplicate` or :class:`~store.tables.Invalid` (409, 422: :mod:`api.errors`).

Every role may read an enterprise, each seeing what disclosure allows: investors by tier, the
enterprise's own choice and the mutual reveal, other enterprises the public profile, staff and data
scientists everything. Pending credential claims are shown as claims ("企业自报，待核验"), never as facts.
Every read of confidential fields is audited before it is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api import disclosure
from api.deps import ROLES, STAFF, Principal
from api.errors import ApiError, field_detail, not_found
from api.logs import request_id_var
from api.schemas.enterprises import EnterpriseCreate, EnterpriseUpdate
from api.security import record_confidential_views
from api.services.checks import (
    authorize,
    codes,
    district_codes,
    district_name,
    label,
    own_enterprise,
    party_id,
    staff_only_fields,
    values_of,
    vocab_codes,
)
from api.services.crossfield import check_enterprise
from matching.domain import industries, vocab
from store import claims as claims_db
from store import programmes as programmes_db
from store import resources as db

REQUIRED = ("name", "country", "tier", "listing_target", "disclosure", "status", "financials")
CLEAR = {"boards": [], "qualifications": [], "excluded_investors": [], "excluded_investor_types": [],
         "description": ""}
STAFF_FIELDS = ("status",)  # tier, boards, qualifications from an enterprise's key: claims (store.claims)


def create(conn: Any, who: Principal, body: EnterpriseCreate) -> dict[str, Any]:
    """A new enterprise with its yearly financials (staff)."""
    authorize(who, *STAFF)
    values = values_of(body, required=REQUIRED, clear=CLEAR, skip=("financials",))
    values["source"] = body.source
    check_enterprise(values)
    years = [y.model_dump(exclude_unset=True) for y in body.financials or ()]
    enterprise_id = db.create_enterprise(conn, values=values, financial_years=years)
    programmes_db.notify(conn, enterprise_ids=[enterprise_id])  # support programmes it qualifies for: told once
    return profile(conn, who, enterprise_id)


def page(conn: Any, who: Principal, *, district: Sequence[str] | None = None, tier: Sequence[str] | None = None,
         board: Sequence[str] | None = None, industry: Sequence[str] | None = None,
         status: Sequence[str] | None = None, q: str | None = None, limit: int = 50, offset: int = 0
         ) -> tuple[list[dict[str, Any]], int]:
    """A page of enterprises in id order, each as ``who`` may see it, and the total; filters take codes or
    Chinese/English labels and only narrow. Confidential fields shown are audited first."""
    authorize(who, *ROLES)
    rows, total = db.list_enterprises(
        conn, district=district_codes(district), tier=vocab_codes(tier, vocab.TIERS, "tier"),
        board=vocab_codes(board, vocab.BOARDS, "board"),
        industry=codes(industry, industries.parse_industry, "industry", [i.code for i in industries.INDUSTRIES]),
        status=vocab_codes(status, vocab.ENTERPRISE_STATUSES, "status"), q=q, limit=limit, offset=offset)
    ids = [r["id"] for r in rows]
    shown, claims = accepted(conn, who, ids), claims_db.of_enterprises(conn, ids)
    views = [view(r, who, r["id"] in shown, claims.get(r["id"], ())) for r in rows]
    record_confidential_views(conn, who, views)  # audited before anything confidential is sent
    return views, total


def update(conn: Any, who: Principal, enterprise_id: int, body: EnterpriseUpdate) -> dict[str, Any]:
    """Change the fields sent; financial years sent are upserted by year. From the enterprise's own key,
    credentials that differ from the verified ones are stored as pending claims."""
    own_enterprise(who, party_id("enterprise_id", enterprise_id))
    values = values_of(body, required=REQUIRED, clear=CLEAR, skip=("financials",))
    staff_only_fields(who, values, STAFF_FIELDS)
    claimed = {} if who.is_staff else {f: values.pop(f) for f in claims_db.CLAIMABLE if f in values}
    years = [y.model_dump(exclude_unset=True) for y in body.financials or ()]
    if not db.update_enterprise(conn, enterprise_id=enterprise_id, values=values, financial_years=years):
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    if claimed:  # the enterprise's own credentials: pending until staff verify them (what is verified already
        current = db.get_enterprise(conn, enterprise_id) or {}  # needs no claim)
        claimed = {f: v for f, v in claimed.items() if _differs(current.get(f), v)}
        claims_db.submit(conn, enterprise_id=enterprise_id, claims=claimed, key_id=who.key_id)
    programmes_db.notify(conn, enterprise_ids=[enterprise_id])  # a changed profile may now fit a programme
    return profile(conn, who, enterprise_id)


def claims(conn: Any, who: Principal, enterprise_id: int) -> list[dict[str, Any]]:
    """The enterprise's claims oldest first, every status (staff, or its own key)."""
    own_enterprise(who, party_id("enterprise_id", enterprise_id))
    if not db.exists(conn, table="enterprises", row_id=enterprise_id):
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    rows = claims_db.of_enterprises(conn, [enterprise_id], pending_only=False).get(enterprise_id, [])
    return [claim_view(r, who) for r in rows]


def decide_claim(conn: Any, who: Principal, enterprise_id: int, claim_id: int, *, verified: bool,
                 note: str | None) -> dict[str, Any]:
    """Verify (the claimed value becomes the enterprise's) or reject a pending claim, audited (staff);
    404 for no such claim, 409 for one decided before."""
    authorize(who, *STAFF)
    claim = claims_db.get(conn, enterprise_id=enterprise_id, claim_id=claim_id)
    if claim is None:
        raise not_found("申报", "claim", claim_id, "claim_id")
    decided = None
    if claim["status"] == "pending":
        decided = claims_db.decide(conn, claim=claim, verified=verified, note=note, who=who,
                                   request_id=request_id_var.get())
    if decided is None:
        now = claims_db.get(conn, enterprise_id=enterprise_id, claim_id=claim_id) or claim
        raise ApiError(409, "conflict", f"该申报已处理（{CLAIM_STATUS_ZH[now['status']]}），不能再次核验",
                       f"Claim {claim_id} is {now['status']}, not pending; only pending claims are decided "
                       "(the enterprise may submit a new claim)",
                       fields=[field_detail("claim_id", claim_id, f"already {now['status']}", ["pending"])])
    if verified:  # a verified tier, board or qualification may fit a support programme
        programmes_db.notify(conn, enterprise_ids=[enterprise_id])
    return claim_view(decided, who)


def profile(conn: Any, who: Principal, enterprise_id: int) -> dict[str, Any]:
    """The enterprise as ``who`` may see it (``withheld`` and ``disclosure`` say what is not shown and why);
    404 when there is none. Confidential fields shown are audited first."""
    authorize(who, *ROLES)
    party_id("enterprise_id", enterprise_id)
    row = db.get_enterprise(conn, enterprise_id)
    if row is None:
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    claims = claims_db.of_enterprises(conn, [enterprise_id]).get(enterprise_id, [])
    out = view(row, who, enterprise_id in accepted(conn, who, [enterprise_id]), claims)
    record_confidential_views(conn, who, [out])  # audited before anything confidential is sent
    return out


def accepted(conn: Any, who: Principal, enterprise_ids: list[int]) -> set[int]:
    """Enterprises that accepted the calling investor's contact request (empty for other roles)."""
    if who.role != "investor" or who.investor_id is None:
        return set()
    return db.contacts_accepted(conn, investor_id=who.investor_id, enterprise_ids=enterprise_ids)


#: How each claim status is shown.
CLAIM_STATUS_ZH = {"pending": "企业自报，待核验", "verified": "已核验", "rejected": "核验未通过",
                   "superseded": "已由新的申报取代"}


def claim_view(row: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    """A claim as ``who`` may see it: the keys that claimed and decided only for staff and the enterprise."""
    insider = who.is_staff or who.enterprise_id == row["enterprise_id"]
    return {**row, "status_zh": CLAIM_STATUS_ZH[row["status"]],
            "claimed_by_key_id": row["claimed_by_key_id"] if insider else None,
            "decided_by_key_id": row["decided_by_key_id"] if insider else None}


def view(row: dict[str, Any], who: Principal, contact_accepted: bool,
         claims: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """An enterprise row as ``who`` may see it, with Chinese labels and its pending claims (not facts)."""
    row = dict(row)
    row["disclosure_choice"] = row.pop("disclosure")
    decision = disclosure.decide(role=who.role, tier=row["tier"], disclosure=row["disclosure_choice"],
                                 enterprise_id=row["id"], viewer_enterprise_id=who.enterprise_id,
                                 contact_accepted=contact_accepted)
    out = disclosure.redact(row, decision)
    out["district_name"] = district_name(row["district"])
    out["industry_zh"] = industries.industry(row["industry"]).zh if row["industry"] else None
    out["tier_zh"] = label(vocab.TIERS, row["tier"])
    out["boards_zh"] = [vocab.BOARDS.label(b) for b in row["boards"]]
    out["claims"] = [claim_view(c, who) for c in claims]
    return out


def _differs(current: Any, claimed: Any) -> bool:
    """Whether a claimed value says something new (lists compare as sets)."""
    if isinstance(claimed, list):
        return set(claimed) != set(current or ())
    return bool(claimed != current)
