"""More like this, for the API (:mod:`api.routes.similar`) and the console: similar enterprises and similar
investors over the current matcher's market (:mod:`matching.serving.similar`).

Who may ask (a 403 says what the key may do instead):

=====================  =========================================  ==========================================
role                   ``/enterprises/{id}/similar``              ``/investors/{id}/similar``
=====================  =========================================  ==========================================
admin, operator        any enterprise                             any investor
data_scientist         any enterprise                             any investor
investor               any enterprise (every role reads           none: investors never read each other's
                       enterprise profiles)                       profiles, and a peer list would be one
enterprise             itself only (its competitors)              any investor (enterprises read investors'
                                                                  public profiles)
=====================  =========================================  ==========================================

What is shown:

* an investor's similar enterprises are only those its hard rules let it be shown
  (:func:`matching.serving.similar.allowed_enterprises`: the enterprise-level rules of the deal lists, an
  enterprise that excludes the investor never appears); whether the enterprise asked about excludes it is
  not told (that list is the enterprise's own business), it simply never appears among the results;
* every enterprise shown goes through :mod:`api.disclosure` exactly as a profile does: its newest year's
  figures are those the caller may see (``null`` where withheld, with ``withheld`` and ``disclosure`` saying
  why), confidential figures shown to a non-owner are audited; reasons state public facts only;
* similar investors show public profile fields only (name, type, district, mandate sectors);
* shared-investor and shared-deal counts come from investments in other enterprises, which only admin,
  operator and data scientists may read (:mod:`matching.rules.event_visibility`): for everyone else they
  are ``null``, no reason mentions them and the list is ordered by the profiles' similarity alone (no
  co-investment lift: ranked by it beside the similarity shown, an item above a more similar one would
  tell that it shares investors; its ``score`` is then its ``similarity``).

Per request, in process through the app (TestClient, 5,000 enterprises, 600 investors, k=10): ~4 ms for similar
enterprises (the list, one query for the items' figures, disclosure, the audit), ~3 ms for similar investors.
"""

from __future__ import annotations

from typing import Any

from api import disclosure
from api.deps import Principal
from api.errors import ApiError, field_detail, forbidden, not_found
from api.security import record_confidential_views
from api.services.checks import authorize, district_name, label, party_id
from api.services.enterprises import accepted
from api.state import AppState
from matching.domain import vocab
from matching.explain.reasons import Reason
from matching.rules.event_visibility import READ_ALL
from matching.serving import similar as core
from store import resources as db
from store import standards as standards_db

READERS = ("admin", "operator", "data_scientist", "investor", "enterprise")
#: The default list length.
DEFAULT_K = 10
_FIGURES = ("year", "revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents")


def similar_enterprises(state: AppState, conn: Any, who: Principal, enterprise_id: int, k: int = DEFAULT_K
                        ) -> dict[str, Any]:
    """``GET /v1/enterprises/{id}/similar``: enterprises like one enterprise, as ``who`` may see them."""
    authorize(who, *READERS)
    party_id("enterprise_id", enterprise_id)
    _check_k(state, k)
    if who.role == "enterprise" and who.enterprise_id != enterprise_id:
        raise forbidden(f"企业密钥只能查看本企业（{who.enterprise_id}）的相似企业",
                        f"An enterprise key sees the enterprises similar to its own ({who.enterprise_id}) only, "
                        f"not to {enterprise_id}")
    ctx = state.matcher.context
    snap = ctx.snap
    row = snap.enterprise_row.get(enterprise_id)
    if row is None:
        raise _not_in_market(conn, "enterprises", "企业", "enterprise", enterprise_id, "enterprise_id")
    viewer = snap.investor_row.get(who.investor_id) if who.role == "investor" and who.investor_id else None
    if who.role == "investor" and viewer is None:  # an investor added since the snapshot: no rules yet, none shown
        found = []
    else:
        allow = core.allowed_enterprises(ctx, viewer)
        found = core.similar_enterprises(ctx, row, k, allow, reveal_shared=who.role in READ_ALL)
    ids = [f.id for f in found]
    current = {r["id"]: r for r in standards_db.enterprise_figures(conn, ids=ids)} if ids else {}
    shown_to = accepted(conn, who, ids)
    items, audit = [], []
    for f in found:
        r = current.get(f.id)
        if r is None:  # no longer active since the snapshot
            continue
        decision = disclosure.decide(role=who.role, tier=r["tier"], disclosure=r["disclosure"], enterprise_id=f.id,
                                     viewer_enterprise_id=who.enterprise_id, contact_accepted=f.id in shown_to)
        latest = r["financials"][:1]
        years = disclosure.redact({"financials": latest}, decision)["financials"]
        sector = int(snap.ent_sector[f.row])
        items.append({
            "id": f.id, "name": snap.ent_name[f.row],
            "industry_zh": snap.sectors.label(sector) if sector >= 0 else None,
            "industry_en": snap.sectors.label(sector, "en") if sector >= 0 else None,
            "district": r["district"], "district_name": _district(r["district"]),
            "tier": r["tier"], "tier_zh": label(vocab.TIERS, r["tier"]), "score": f.score, "similarity": f.cosine,
            "shared_investors": f.shared, "figures": _figures(years), "withheld": list(decision.withheld),
            "disclosure": decision.as_dict(), "reasons": _reasons(f.reasons)})
        # registered capital is never shown here: audit only the groups the item shows
        audit.append({"id": f.id, "withheld": [*decision.withheld, disclosure.CAPITAL],
                      "disclosure": decision.as_dict()})
    record_confidential_views(conn, who, audit)  # audited before anything confidential is sent
    return {"enterprise_id": enterprise_id, "as_of": ctx.as_of,
            "filtered_by": "hard_rules" if who.role == "investor" else "active", "items": items}


def similar_investors(state: AppState, conn: Any, who: Principal, investor_id: int, k: int = DEFAULT_K
                      ) -> dict[str, Any]:
    """``GET /v1/investors/{id}/similar``: active investors like one investor, public profile fields only."""
    authorize(who, *READERS)
    party_id("investor_id", investor_id)
    _check_k(state, k)
    if who.role == "investor":  # even its own: the list would show peers' names, types and mandates
        raise forbidden("投资机构之间不互相展示资料：相似机构仅对平台人员及企业展示",
                        "Investors do not see one another's profiles: similar investors are shown to staff and "
                        "enterprises only")
    ctx = state.matcher.context
    snap = ctx.snap
    row = snap.investor_row.get(investor_id)
    if row is None:
        raise _not_in_market(conn, "investors", "投资机构", "investor", investor_id, "investor_id")
    found = core.similar_investors(ctx, row, k, reveal_shared=who.role in READ_ALL)
    items = []
    for f in found:
        code = vocab.INVESTOR_TYPES.codes[int(snap.inv_type[f.row])]
        district = snap.inv_district[f.row]
        items.append({
            "id": f.id, "name": snap.inv_name[f.row], "investor_type": code,
            "investor_type_zh": vocab.INVESTOR_TYPES.label(code), "district": district,
            "district_name": _district(district), "sectors_zh": [snap.sectors.label(s) for s in
                                                                 sorted(snap.man_sectors[f.row])],
            "score": f.score, "similarity": f.cosine, "shared_deals": f.shared, "reasons": _reasons(f.reasons)})
    return {"investor_id": investor_id, "as_of": ctx.as_of, "items": items}


def _check_k(state: AppState, k: int) -> None:
    top = state.settings.api_max_k
    if not 1 <= k <= top:
        raise ApiError(422, "validation_error", f"k 须在 1 至 {top} 之间", f"k must be between 1 and {top}",
                       fields=[field_detail("k", k, f"between 1 and {top}")])


def _not_in_market(conn: Any, table: str, zh: str, en: str, value: int, field: str) -> ApiError:
    """404: no such record, or one added since the market snapshot (listed after the next reload)."""
    if not db.exists(conn, table=table, row_id=value):
        return not_found(zh, en, value, field)
    return ApiError(404, "not_found", f"{zh} {value} 尚未进入当前市场快照，下次刷新后可查相似",
                    f"{en} {value} is not in the current market snapshot yet; similar lists include it after the "
                    "next market reload", fields=[field_detail(field, value, "not in the current market snapshot")])


def _figures(years: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if not years:
        return None
    return {f: years[0].get(f) for f in _FIGURES}


def _district(code: str | None) -> str | None:
    try:
        return district_name(code)
    except KeyError:
        return None


def _reasons(reasons: list[Reason]) -> list[dict[str, Any]]:
    return [{"code": r.code, "zh": r.zh, "en": r.en, "kind": r.kind, "weight": r.weight} for r in reasons]
