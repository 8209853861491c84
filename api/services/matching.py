"""Ranked, explained lists, as the API's list routes (:mod:`api.routes.matching`) and the console serve them.

Access (checked here, for every caller): an investor key reads its own investor's lists, an enterprise
key its own enterprise's; operators and admins read any party's; data scientists get 403. Search:
investors search enterprises, enterprises search investors, staff both.

Every served list is logged (``served_lists`` + ``served_list_items``, with positions, scores,
candidate sources and the feature values), batched behind the response by :mod:`api.impressions`,
and its reasons pass :func:`api.reasons.shown_reasons` (disclosure covers what is derived).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query

from api.deps import Principal, StateDep
from api.errors import ApiError, field_detail, forbidden
from api.reasons import read_facts, shown_reasons
from api.schemas.matching import MatchItemOut, MatchListOut, NeedOut, PartyOut, ReasonOut, SecondaryOut
from api.services.checks import authorize, party_id
from api.services.readiness import listing_reasons, targets_pre_ipo
from api.state import AppState
from matching.domain import vocab
from matching.domain.records import Mandate
from matching.domain.vocab import split_list
from matching.explain.reasons import Reason
from matching.rules.filters import Filters
from matching.serving.matcher import Matcher
from matching.serving.results import CONTENT_RULES, MatchItem, MatchList
from store import lists as lists_db

#: The roles that read an investor's lists, and an enterprise's.
INVESTOR_SIDE = ("investor", "operator", "admin")
ENTERPRISE_SIDE = ("enterprise", "operator", "admin")
#: The longest search text.
MAX_QUERY = 200


def _many(values: list[str] | None) -> tuple[str, ...]:
    return tuple(p for v in values or () for p in split_list(v))


class ListParams:
    """Filters and list length shared by the list routes (repeat a filter or separate values with commas).

    Values may be codes or Chinese/English labels (``tier=成长层``, ``district=渝北区``); each only narrows
    the hard constraints of the mandate, never loosens them.
    """

    def __init__(self, state: StateDep,
                 board: Annotated[list[str] | None, Query(
                     description=f"Boards (any of): {', '.join(vocab.BOARDS.codes)}")] = None,
                 tier: Annotated[list[str] | None, Query(description=f"Tiers: {', '.join(vocab.TIERS.codes)}")] = None,
                 district: Annotated[list[str] | None, Query(
                     description="District codes or names (渝北区, 500112)")] = None,
                 instrument: Annotated[list[str] | None, Query(
                     description=f"Instruments: {', '.join(vocab.INSTRUMENTS.codes)}")] = None,
                 investor_type: Annotated[list[str] | None, Query(
                     description=f"Investor types (investor lists): {', '.join(vocab.INVESTOR_TYPES.codes)}")] = None,
                 amount_min: Annotated[float | None, Query(ge=0, le=1e13, allow_inf_nan=False,
                                                           description="Smallest need amount, yuan")] = None,
                 amount_max: Annotated[float | None, Query(ge=0, le=1e13, allow_inf_nan=False,
                                                           description="Largest need amount, yuan")] = None,
                 k: Annotated[int, Query(ge=1, description="List length (at most the service's api_max_k)")] = 20,
                 ) -> None:
        if k > state.settings.api_max_k:
            raise ApiError(422, "validation_error", f"k 不能超过 {state.settings.api_max_k}",
                           f"k must be at most {state.settings.api_max_k}",
                           fields=[field_detail("k", k, f"between 1 and {state.settings.api_max_k}")])
        self.k = k
        self.filters = Filters(boards=_many(board), tiers=_many(tier), districts=_many(district),
                               instruments=_many(instrument), investor_types=_many(investor_type),
                               amount_min=amount_min, amount_max=amount_max)
        self.query: dict[str, Any] = {"k": k, "filters": {
            "boards": list(self.filters.boards), "tiers": list(self.filters.tiers),
            "districts": list(self.filters.districts), "instruments": list(self.filters.instruments),
            "investor_types": list(self.filters.investor_types), "amount_min": amount_min, "amount_max": amount_max}}


def deal_list(state: AppState, who: Principal, investor_id: int, params: ListParams) -> MatchListOut:
    """Enterprises with a need fitting the investor's mandate, best first, with reasons (logged as served)."""
    authorize(who, *INVESTOR_SIDE)
    party_id("investor_id", investor_id)
    _own_investor(who, investor_id)
    if params.filters.investor_types:
        _not_here("investor_type", params.filters.investor_types, "deal lists filter enterprises")
    m = state.matcher
    result = m.recommend_enterprises(investor_id, params.k, params.filters, exposure=state.exposure)
    _count_exposure(state, result)
    return _serve(state, m, who, result, "investor", investor_id, None, params.query)


def investor_list(state: AppState, who: Principal, enterprise_id: int, params: ListParams) -> MatchListOut:
    """Investors whose mandate fits one of the enterprise's open needs, best first, with reasons (logged)."""
    authorize(who, *ENTERPRISE_SIDE)
    party_id("enterprise_id", enterprise_id)
    if not who.may_act_for_enterprise(enterprise_id):
        raise forbidden(f"该密钥只能访问企业 {who.enterprise_id} 的数据",
                        f"This key acts for enterprise {who.enterprise_id} only, not {enterprise_id}")
    m = state.matcher
    result = m.recommend_investors(enterprise_id, params.k, params.filters)
    return _serve(state, m, who, result, "enterprise", None, enterprise_id, params.query)


def secondary_list(state: AppState, who: Principal, investor_id: int, k: int) -> MatchListOut:
    """Listings for an S fund (s_fund), by sector fit, discount, vintage and similarity (logged)."""
    authorize(who, *INVESTOR_SIDE)
    party_id("investor_id", investor_id)
    _own_investor(who, investor_id)
    params = ListParams(state, k=k)
    m = state.matcher
    result = m.recommend_secondaries(investor_id, params.k)  # listings embedded with the market: no encoding
    return _serve(state, m, who, result, "secondary", investor_id, None, params.query)


def search_list(state: AppState, who: Principal, q: str, side: Literal["enterprise", "investor"],
                params: ListParams) -> MatchListOut:
    """Enterprises (investors and staff) or investors (enterprises and staff) matching a text (logged)."""
    authorize(who, "investor", "enterprise", "operator", "admin")
    if not 1 <= len(q) <= MAX_QUERY:
        raise ApiError(422, "validation_error", f"检索词须为 1 至 {MAX_QUERY} 个字符",
                       f"q must be 1 to {MAX_QUERY} characters", fields=[field_detail("q", q[:MAX_QUERY],
                                                                                    f"1 to {MAX_QUERY} characters")])
    if (who.role == "investor" and side != "enterprise") or (who.role == "enterprise" and side != "investor"):
        other = "enterprise" if who.role == "investor" else "investor"
        raise forbidden(f"{who.role} 密钥只能检索 side={other}",
                        f"A {who.role} key searches side={other} only")
    m = state.matcher
    result = m.search(q, side, params.k, params.filters)  # the query is embedded on a free encoder session
    query = {**params.query, "q": q, "side": side}
    return _serve(state, m, who, result, "search", who.investor_id, who.enterprise_id, query)


# -- helpers -------------------------------------------------------------------------------------------
def _own_investor(who: Principal, investor_id: int) -> None:
    if not who.may_act_for_investor(investor_id):
        raise forbidden(f"该密钥只能访问投资方 {who.investor_id} 的数据",
                        f"This key acts for investor {who.investor_id} only, not {investor_id}")


def _not_here(field: str, value: object, why: str) -> None:
    raise ApiError(422, "validation_error", f"此列表不支持 {field} 筛选", f"{field} does not apply here: {why}",
                   fields=[field_detail(field, list(value) if isinstance(value, tuple) else value, why)])


def _count_exposure(state: AppState, result: MatchList) -> None:
    """Shown enterprises count toward the exposure cap (in memory; seeded from the log at start-up)."""
    state.exposure.record(it.enterprise_id for it in result.items if it.enterprise_id is not None)


def _serve(state: AppState, m: Matcher, who: Principal, result: MatchList, side: lists_db.Side,
           investor_id: int | None, enterprise_id: int | None, query: dict[str, Any]) -> MatchListOut:
    """Log the list (queued for the impression log, or written now), count it, and shape the response."""
    served = lists_db.served_list(result, side=side, investor_id=investor_id, enterprise_id=enterprise_id,
                                  api_key_id=who.key_id, registered_model=result.model_version != CONTENT_RULES,
                                  query={**query, "role": who.role})
    if state.impressions is not None:
        state.impressions.submit(served)  # written behind the response, within impression_flush_ms
    else:
        with state.pool.connection() as conn:
            lists_db.write_lists(conn, [served])
    list_id = served.id
    state.metrics.lists_served.labels(side=side).inc()
    view = {"investor": "investor", "enterprise": "enterprise"}.get(side)  # the lists with model reasons
    mandate = _current_mandate(m, investor_id) if side == "investor" else None
    # what disclosure needs (settings, reveals, readiness figures for a pre-IPO mandate): one round trip
    facts = read_facts(state.pool, who, result.items, view,
                       listing_investor=investor_id if targets_pre_ipo(mandate) else None)
    reasons = shown_reasons(state.pool, m, who, result.items, view, facts)  # disclosure covers what is derived
    if side == "investor":  # "接近北交所上市标准", only where every figure behind it is disclosed to the investor
        near = listing_reasons(state.pool, who, investor_id, mandate, [it.enterprise_id for it in result.items],
                               facts)
        reasons = [[*r, near[it.enterprise_id]] if it.enterprise_id in near else r
                   for it, r in zip(result.items, reasons, strict=True)]
    items = [_item(m, it, r) for it, r in zip(result.items, reasons, strict=True)]
    return MatchListOut(list_id=list_id, model_version=result.model_version, as_of=result.as_of,
                        direction=result.direction, items=items)


def _current_mandate(m: Matcher, investor_id: int | None) -> Mandate | None:
    """The investor's newest mandate version in the matcher's market (the snapshot ranks with the version valid
    at its ``as_of``; a version written since is the investor's current intent)."""
    row = m.snap.investor_row.get(investor_id) if investor_id is not None else None
    if row is None:
        return None
    versions = m.snap.man_versions.get(row)
    return max(versions, key=lambda v: v.version) if versions else m.snap.man_record[row]


def _item(m: Matcher, it: MatchItem, reasons: list[Reason]) -> MatchItemOut:
    """One served item as the response shows it: every row is read from the market of the matcher that served
    the list (``m``), never from the current one (a market reload may have happened since)."""
    snap = m.snap
    ent = inv = need = sec = None
    if it.enterprise_id is not None and (r := snap.enterprise_row.get(it.enterprise_id)) is not None:
        ent = PartyOut(id=it.enterprise_id, name=snap.ent_name[r])
    if it.investor_id is not None and (r := snap.investor_row.get(it.investor_id)) is not None:
        inv = PartyOut(id=it.investor_id, name=snap.inv_name[r])
    if it.need_id is not None and (r := snap.need_row.get(it.need_id)) is not None:
        n = snap.need_record[r]
        need = NeedOut(id=it.need_id, ref=n.ref, instrument=n.instrument, instrument_zh=vocab.INSTRUMENTS.label(
            n.instrument), amount=n.amount, currency=n.currency, round=n.round, closes_on=n.closes_on)
    if it.secondary_id is not None and (r := m.context.sec_row.get(it.secondary_id)) is not None:
        s = snap.sec_record[r]
        sec = SecondaryOut(id=it.secondary_id, ref=s.ref, kind=s.kind, fund_name=s.fund_name,  # type: ignore[arg-type]
                           seller_name=s.seller_name, asking_price=s.asking_price, nav=s.nav, currency=s.currency,
                           vintage=s.vintage)
    return MatchItemOut(position=it.position, score=it.score, enterprise=ent, investor=inv, need=need, secondary=sec,
                        p_investor=it.p_investor, p_enterprise=it.p_enterprise,
                        reasons=[ReasonOut(code=x.code, zh=x.zh, en=x.en, kind=x.kind, weight=x.weight)
                                 for x in reasons], sources=it.sources)
