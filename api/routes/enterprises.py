"""Enterprises with their yearly financials: create, read, update, list; shown as :mod:`api.disclosure` allows.

Access: admin and operator create and update any enterprise; an enterprise key reads and updates its
own (not its ``status``, which the platform sets; its ``tier``, ``boards`` and ``qualifications`` are
stored as pending claims, shown as "企业自报，待核验" and never used for ranking or reasons until staff
verify them with ``POST /v1/enterprises/{id}/claims/{claim_id}/decision``, each decision audited);
every role may read and list
enterprises, each seeing what disclosure allows: investors by tier, the enterprise's own choice and
the mutual reveal, other enterprises the public profile, staff and data scientists everything.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import ConnDep
from api.errors import MAX_ID, ApiError, field_detail, not_found
from api.logs import request_id_var
from api.routes.resource_common import (
    READ_ERRORS,
    WRITE_ERRORS,
    Anyone,
    Limit,
    Offset,
    QueryCodes,
    StaffOnly,
    Text,
    codes,
    conflict,
    district_codes,
    invalid,
    own_enterprise,
    page,
    refused,
    staff_only_fields,
    values_of,
    vocab_codes,
)
from api.schemas.resources import ClaimDecisionIn, ClaimOut, EnterpriseCreate, EnterpriseOut, EnterpriseUpdate, Page
from api.security import record_confidential_views
from api.services import enterprises as service
from matching.domain import industries, vocab
from store import claims as claims_db
from store import resources as db

router = APIRouter(prefix="/v1", tags=["enterprises"])
EnterpriseId = Annotated[int, Path(gt=0)]
ClaimId = Annotated[int, Path(gt=0, le=MAX_ID)]

REQUIRED = ("name", "country", "tier", "listing_target", "disclosure", "status", "financials")
CLEAR = {"boards": [], "qualifications": [], "excluded_investors": [], "excluded_investor_types": [],
         "description": ""}
STAFF_FIELDS = ("status",)  # tier, boards, qualifications from an enterprise's key: claims (store.claims)


@router.post("/enterprises", status_code=201, response_model=EnterpriseOut, responses=WRITE_ERRORS,
             summary="Create an enterprise (admin, operator)")
def create_enterprise(body: EnterpriseCreate, conn: ConnDep, who: StaffOnly) -> dict[str, Any]:
    """A new enterprise with its yearly financials; 409 when its credit code (or source + external id) exists."""
    values = values_of(body, required=REQUIRED, clear=CLEAR, skip=("financials",))
    values["source"] = body.source
    if body.credit_code is None and body.external_id is None:
        raise invalid("credit_code", None, "需要统一社会信用代码或外部编号",
                      "Give credit_code (统一社会信用代码) or, for an enterprise without one, external_id")
    years = [y.model_dump(exclude_unset=True) for y in body.financials or ()]
    try:
        new_id = db.create_enterprise(conn, values=values, financial_years=years)
    except db.Duplicate as exc:
        raise conflict(exc, "企业", "enterprise") from exc
    except db.Invalid as exc:
        raise refused(exc) from exc
    return service.profile(conn, who, new_id)


@router.get("/enterprises", response_model=Page[EnterpriseOut], responses=READ_ERRORS,
            summary="List enterprises (filters, pages; disclosure applied per enterprise)")
def list_enterprises(conn: ConnDep, who: Anyone, district: QueryCodes = None, tier: QueryCodes = None,
                     board: QueryCodes = None, industry: QueryCodes = None, status: QueryCodes = None, q: Text = None,
                     limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Enterprises in id order; filters take codes or Chinese/English labels and only narrow."""
    rows, total = db.list_enterprises(
        conn, district=district_codes(district), tier=vocab_codes(tier, vocab.TIERS, "tier"),
        board=vocab_codes(board, vocab.BOARDS, "board"),
        industry=codes(industry, industries.parse_industry, "industry", [i.code for i in industries.INDUSTRIES]),
        status=vocab_codes(status, vocab.ENTERPRISE_STATUSES, "status"), q=q, limit=limit, offset=offset)
    accepted = service.accepted(conn, who, [r["id"] for r in rows])
    claims = claims_db.of_enterprises(conn, [r["id"] for r in rows])
    views = [service.view(r, who, r["id"] in accepted, claims.get(r["id"], ())) for r in rows]
    record_confidential_views(conn, who, views)  # audited before anything confidential is sent
    return page(views, total, limit, offset)


@router.get("/enterprises/{enterprise_id}", response_model=EnterpriseOut, responses=READ_ERRORS,
            summary="An enterprise, as far as the caller may see it")
def get_enterprise(enterprise_id: EnterpriseId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """The enterprise; ``withheld`` and ``disclosure`` say what is not shown, why, and how it can be."""
    return service.profile(conn, who, enterprise_id)


@router.patch("/enterprises/{enterprise_id}", response_model=EnterpriseOut, responses=WRITE_ERRORS,
              summary="Update an enterprise (staff, or its own key)")
def update_enterprise(enterprise_id: EnterpriseId, body: EnterpriseUpdate, conn: ConnDep, who: Anyone
                      ) -> dict[str, Any]:
    """Change the fields sent; financial years sent are upserted by year."""
    own_enterprise(who, enterprise_id)
    values = values_of(body, required=REQUIRED, clear=CLEAR, skip=("financials",))
    staff_only_fields(who, values, STAFF_FIELDS)
    claimed = {} if who.is_staff else {f: values.pop(f) for f in claims_db.CLAIMABLE if f in values}
    years = [y.model_dump(exclude_unset=True) for y in body.financials or ()]
    try:
        found = db.update_enterprise(conn, enterprise_id=enterprise_id, values=values, financial_years=years)
    except db.Invalid as exc:
        raise refused(exc) from exc
    if not found:
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    if claimed:  # the enterprise's own credentials: pending until staff verify them (what is verified already
        current = db.get_enterprise(conn, enterprise_id) or {}  # needs no claim)
        claimed = {f: v for f, v in claimed.items() if _differs(current.get(f), v)}
        claims_db.submit(conn, enterprise_id=enterprise_id, claims=claimed, key_id=who.key_id)
    return service.profile(conn, who, enterprise_id)


@router.get("/enterprises/{enterprise_id}/claims", response_model=Page[ClaimOut], responses=READ_ERRORS,
            summary="An enterprise's credential claims, every status (staff, or its own key)")
def list_claims(enterprise_id: EnterpriseId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Claims oldest first: pending (企业自报，待核验), verified, rejected, superseded."""
    own_enterprise(who, enterprise_id)
    if not db.exists(conn, table="enterprises", row_id=enterprise_id):
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    rows = claims_db.of_enterprises(conn, [enterprise_id], pending_only=False).get(enterprise_id, [])
    return page([service.claim_view(r, who) for r in rows], len(rows), max(len(rows), 1), 0)


@router.post("/enterprises/{enterprise_id}/claims/{claim_id}/decision", response_model=ClaimOut,
             responses=WRITE_ERRORS, summary="Verify or reject a pending credential claim (admin, operator)")
def decide_claim(enterprise_id: EnterpriseId, claim_id: ClaimId, body: ClaimDecisionIn, conn: ConnDep,
                 who: StaffOnly) -> dict[str, Any]:
    """``verified`` applies the claimed value to the enterprise (a ranking fact from the next snapshot);
    ``rejected`` keeps it as a rejected claim. Each decision writes an audit row."""
    claim = claims_db.get(conn, enterprise_id=enterprise_id, claim_id=claim_id)
    if claim is None:
        raise not_found("申报", "claim", claim_id, "claim_id")
    decided = None
    if claim["status"] == "pending":
        decided = claims_db.decide(conn, claim=claim, verified=body.decision == "verified", note=body.note, who=who,
                                   request_id=request_id_var.get())
    if decided is None:
        now = claims_db.get(conn, enterprise_id=enterprise_id, claim_id=claim_id) or claim
        raise ApiError(409, "conflict", f"该申报已处理（{service.CLAIM_STATUS_ZH[now['status']]}），不能再次核验",
                       f"Claim {claim_id} is {now['status']}, not pending; only pending claims are decided "
                       "(the enterprise may submit a new claim)",
                       fields=[field_detail("claim_id", claim_id, f"already {now['status']}", ["pending"])])
    return service.claim_view(decided, who)


# -- helpers ---------------------------------------------------------------------------------------------
def _differs(current: Any, claimed: Any) -> bool:
    """Whether a claimed value says something new (lists compare as sets)."""
    if isinstance(claimed, list):
        return set(claimed) != set(current or ())
    return bool(claimed != current)
