"""Syndicates for the API (:mod:`api.routes.syndicates`) and the console: co-investor sets that together
cover a financing need (:mod:`matching.serving.syndicates`).

Who may ask (a 403 says what the key may do instead):

=====================  ============================================================================
role                   ``GET /v1/needs/{id}/syndicates[?lead=INVESTOR_ID]``
=====================  ============================================================================
admin, operator        any need, any lead or none
data_scientist         any need, any lead or none
investor               a live need (open, in negotiation: as ``GET /v1/needs/{id}``); the lead is
                       itself (``lead`` omitted or its own id; another id is a 403)
enterprise             its own needs, any lead or none
=====================  ============================================================================

What is shown, member by member:

* **staff and data scientists**: everything: proposed shares, ticket ranges, scores, fit percentiles,
  co-investment counts and every reason.
* **the enterprise** (its own need): names, types, proposed shares, ticket ranges (enterprises read investors'
  public mandates) and scores (as on its investor list); no co-investment count, and the counts do not order
  the sets (they come from investments in other enterprises, :mod:`matching.rules.event_visibility`).
* **an investor** (as lead): its co-investors' names and types only, in investor id order (by fit would tell their
  scores). Their ticket ranges, scores and history are theirs; their proposed shares are withheld too, and so is the
  lead's own (in a two-member set the other's share is the amount less the lead's, and each share is drawn from its
  member's private range). The set says how many members cover the amount (``total`` equals ``amount``). Its 422 for
  a need its mandate does not fit names no rule (the broken rules could include the enterprise's refusal list, which
  is internal). That an investor appears at all tells that its mandate admits the need: what a syndicate suggestion
  is.

Cost: one feature pass over the investors who may join and a beam search over the best 30. The core call
(:func:`matching.serving.syndicates.suggest`) on a generated market of 5,000 enterprises and 600 investors, 200 open
needs (pools of 76 investors at the median, 256 at most): median 64 ms, p95 132 ms, slowest 1.2 s, measured while
other jobs held the 2-core machine at load average ≈ 10 (so an upper bound; no quiet measurement was made).
"""

from __future__ import annotations

from typing import Any

from api.deps import Principal
from api.errors import ApiError, field_detail, forbidden, not_found
from api.services.checks import authorize, label, party_id
from api.state import AppState
from matching.domain import vocab
from matching.errors import FieldError
from matching.explain.reasons import Reason
from matching.rules import listing_visibility as visibility
from matching.rules.event_visibility import READ_ALL
from matching.serving import syndicates as core
from store import resources as db

READERS = ("admin", "operator", "data_scientist", "investor", "enterprise")
#: How many sets a response holds.
DEFAULT_N = 5


def syndicates(state: AppState, conn: Any, who: Principal, need_id: int, lead: int | None = None,
               n: int = DEFAULT_N) -> dict[str, Any]:
    """``GET /v1/needs/{id}/syndicates``: co-investor sets for a need, as ``who`` may see them."""
    authorize(who, *READERS)
    party_id("need_id", need_id)
    if lead is not None:
        party_id("lead", lead)
    if who.role == "investor":
        if lead is not None and lead != who.investor_id:
            raise forbidden(f"投资机构密钥只能以本机构（{who.investor_id}）为领投方组建银团",
                            f"An investor key may name only itself ({who.investor_id}) as the lead, not {lead}")
        lead = who.investor_id
    row = db.get_need(conn, need_id)
    live = visibility.need_statuses(who.role)
    if row is None or (live is not None and row["status"] not in live):
        raise not_found("融资需求", "financing need", need_id, "need_id")
    if who.role == "enterprise" and row["enterprise_id"] != who.enterprise_id:
        raise forbidden(f"企业密钥只能为本企业（{who.enterprise_id}）的融资需求组建银团",
                        f"An enterprise key sees syndicates for its own enterprise's ({who.enterprise_id}) needs only")
    if row["status"] not in vocab.LIVE_NEED_STATUSES:
        status_zh = label(vocab.NEED_STATUSES, row["status"])
        raise ApiError(422, "validation_error", f"融资需求 {need_id} 状态为{status_zh}，只为进行中的需求组建银团",
                       f"Financing need {need_id} is {row['status']}: syndicates are suggested for open needs only",
                       fields=[field_detail("need_id", need_id, "an open or in-progress need")])
    matcher = state.matcher
    ctx, snap = matcher.context, matcher.context.snap
    need_row = snap.need_row.get(need_id)
    if need_row is None:
        raise _not_yet("融资需求", "financing need", need_id, "need_id")
    lead_row = None
    if lead is not None:
        lead_row = snap.investor_row.get(lead)
        if lead_row is None:
            if not db.exists(conn, table="investors", row_id=lead):
                raise not_found("投资机构", "investor", lead, "lead")
            raise _not_yet("投资机构", "investor", lead, "lead")
    reveal = who.role in READ_ALL
    pool = core.pool(ctx, matcher.scorer, need_row)
    try:
        found = core.suggest(ctx, matcher.scorer, need_row, lead_row=lead_row, n=n, reveal_history=reveal, found=pool)
    except FieldError as exc:
        raise _refused(exc, who, need_id) from exc
    items = [_set(s, k + 1, who, snap) for k, s in enumerate(found)]
    return {"need_id": need_id, "enterprise_id": int(row["enterprise_id"]), "lead_investor_id": lead,
            "as_of": ctx.as_of, "model_version": matcher.model_version, "candidates": len(pool.rows), "items": items}


def _refused(exc: FieldError, who: Principal, need_id: int) -> ApiError:
    if isinstance(exc, core.LeadAlone) and who.role == "investor":  # its own ticket and the public amount only
        return ApiError(422, "validation_error",
                        f"贵机构最低单笔投资 {exc.ticket_min / 10_000:,.0f} 万元，高于融资需求 {need_id} 的融资金额 "
                        f"{exc.amount / 10_000:,.0f} 万元：可单独投资，无需组建银团",
                        f"Your minimum ticket ({exc.ticket_min / 10_000:,.0f} 万元) is above the "
                        f"{exc.amount / 10_000:,.0f} 万元 need {need_id} seeks: you may fund it alone; "
                        "there is no room for co-investors",
                        fields=[field_detail("lead", exc.value, "a lead whose minimum ticket leaves room for others")])
    if exc.field == "lead":
        if who.role == "investor":  # the broken rules may include the enterprise's (internal) refusal list
            return ApiError(422, "validation_error", f"贵机构的投资策略不符合融资需求 {need_id}，无法作为领投方",
                            f"Your mandate does not fit financing need {need_id}: you cannot lead it",
                            fields=[field_detail("lead", exc.value, "an investor whose mandate fits the need")])
        return ApiError(422, "validation_error", f"投资机构 {exc.value} 不符合该融资需求的硬性条件，不能作为领投方",
                        f"Investor {exc.value} cannot lead this need: {exc.reason}",
                        fields=[field_detail("lead", exc.value, exc.reason)])
    return ApiError(422, "validation_error", f"融资需求 {need_id} 已关闭，只为进行中的需求组建银团",
                    f"Financing need {need_id}: {exc.reason}", fields=[field_detail("need_id", need_id, exc.reason)])


def _not_yet(zh: str, en: str, value: int, field: str) -> ApiError:
    return ApiError(404, "not_found", f"{zh} {value} 尚未进入当前市场快照，下次刷新后可组建银团",
                    f"{en} {value} is not in the current market snapshot yet; syndicates include it after the next "
                    "market reload", fields=[field_detail(field, value, "not in the current market snapshot")])


def _set(s: core.Syndicate, rank: int, who: Principal, snap: Any) -> dict[str, Any]:
    staff = who.role in READ_ALL
    drop = set(core.HISTORY_CODES) if not staff else set()
    members = s.members
    if who.role == "investor":
        drop |= set(core.TICKET_CODES)
        # the lead, then its co-investors by id: "by fit" would order them by the scores withheld from it
        members = sorted(members, key=lambda m: (not m.lead, m.id))
    return {"rank": rank, "members": [_member(m, who, snap, drop) for m in members], "amount": s.amount,
            "total": s.total, "objective": s.objective if staff else None,
            "co_investments": s.co_investments if staff else None, "reasons": _reasons(s.reasons, drop)}


def _member(m: core.Member, who: Principal, snap: Any, drop: set[str]) -> dict[str, Any]:
    code = vocab.INVESTOR_TYPES.codes[int(snap.inv_type[m.row])]
    investor = who.role == "investor"
    withheld = (["amount", "ticket", "score"] if investor else []) + ([] if who.role in READ_ALL else ["history"])
    return {"investor_id": m.id, "name": snap.inv_name[m.row], "investor_type": code,
            "investor_type_zh": vocab.INVESTOR_TYPES.label(code), "lead": m.lead,
            "amount": None if investor else m.amount, "ticket_min": None if investor else m.ticket_min,
            "ticket_max": None if investor else m.ticket_max, "score": None if investor else m.score,
            "fit": None if investor else m.fit, "co_with_lead": m.co_with_lead if who.role in READ_ALL else None,
            "withheld": withheld, "reasons": _reasons(m.reasons, drop)}


def _reasons(reasons: list[Reason], drop: set[str]) -> list[dict[str, Any]]:
    return [{"code": r.code, "zh": r.zh, "en": r.en, "kind": r.kind, "weight": r.weight}
            for r in reasons if r.code not in drop]
