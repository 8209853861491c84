"""Explanations: the main reasons of a match, in plain Chinese and English, each a true fact.

Reasons come from the pair's **rule hits**, recomputed from the snapshot (sector with the investor's recent
investments in it, ticket, stage, region and district, local reinvestment, tier and board, instrument,
qualifications), and from the ranker's **per-feature contributions** (decision paths,
:mod:`matching.ranking.treepaths`), named by their labels in :data:`matching.features.table.FEATURES`.
``kind="improve"`` reasons say what would make the match better (a near-miss ticket, moving up to the growth
tier, disclosing R&D data). Each reason keeps the numbers it states in ``facts`` (tests recompute them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from matching.domain import industries, regions, vocab
from matching.features.table import FEATURE_NAMES, FEATURES
from matching.snapshot.core import DEBT_MASK, EVENT, QUAL, MarketSnapshot
from matching.snapshot.derived import derived
from matching.snapshot.profiles import yuan

logger = logging.getLogger(__name__)

View = Literal["investor", "enterprise"]
INVESTED = EVENT["invested"]
RECENT_DEALS = 10
_QUAL_ORDER = ("little_giant", "srdi_municipal", "high_tech", "ipo_reserve", "tech_sme")
#: Model features whose reason would repeat a rule hit (the rule's wording is the more precise).
_COVERED = {"sector_exact", "sector_cluster", "ticket_fit", "ticket_in_range", "stage_fit", "region_fit",
            "tier_fit", "board_fit", "ent_little_giant", "instrument_fit", "mandate_generalist"}
_SHARES = {"sector_share", "region_share", "stage_share"}
_LABEL = {f.name: f for f in FEATURES}


@dataclass(frozen=True)
class Reason:
    """One reason of a match.

    Attributes:
        code: stable identifier (``sector_exact``, ``ticket``, ``model:<feature>``, …).
        zh: the reason in Chinese.
        en: the reason in English.
        weight: how much it counts (rule weight, or the feature's contribution); ``None``: :data:`UNDISCLOSED`.
        kind: ``"fit"`` (why it matches) or ``"improve"`` (what would make it match better).
        facts: the values the sentence states (for the impression log and for tests).
    """

    code: str
    zh: str
    en: str
    weight: float | None
    kind: Literal["fit", "improve"] = "fit"
    facts: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def yuan_en(amount: float | None) -> str:
    """Amount in English: CNY 50m, CNY 1.2bn."""
    if amount is None:
        return "undisclosed"
    if amount >= 1e9:
        return f"CNY {amount / 1e9:.4g}bn"
    if amount >= 1e6:
        return f"CNY {amount / 1e6:,.4g}m"
    return f"CNY {amount:,.0f}"


def ticket_range(lo: float, hi: float, lang: str = "zh") -> str:
    """A ticket range as people write it: 2,000万–1亿元 / CNY 20m–100m (open ends in words)."""
    lo_v = None if np.isnan(lo) else float(lo)
    hi_v = None if np.isnan(hi) else float(hi)
    if lang == "zh":
        if lo_v is not None and hi_v is not None:
            return f"{yuan(lo_v).removesuffix('元')}–{yuan(hi_v)}"
        return f"{yuan(lo_v)}以上" if lo_v is not None else f"{yuan(hi_v)}以下"
    if lo_v is not None and hi_v is not None:
        return f"{yuan_en(lo_v)}–{yuan_en(hi_v).removeprefix('CNY ')}"
    return f"at least {yuan_en(lo_v)}" if lo_v is not None else f"up to {yuan_en(hi_v)}"


def _invested_by_investor(snap: MarketSnapshot) -> dict[int, np.ndarray]:
    """Investor row → rows of the enterprises it invested in before the snapshot, time-sorted."""
    sl = snap.events_before(snap.as_of)
    hit = np.flatnonzero((snap.ev_type[sl] == INVESTED) & (snap.ev_ent[sl] >= 0) & (snap.ev_inv[sl] >= 0))
    invs, ents = snap.ev_inv[sl][hit], snap.ev_ent[sl][hit]  # time-sorted
    return {int(i): ents[invs == i] for i in np.unique(invs)}


def recent_deals(snap: MarketSnapshot, inv: int, sector: int, *, last: int = RECENT_DEALS
                 ) -> tuple[int, int]:
    """``(n, m)``: the investor's last ``n`` (≤ ``last``) investments before the snapshot, ``m`` of them
    in ``sector``."""
    by_inv = derived(snap, "invested_by_investor", lambda: _invested_by_investor(snap))
    ents = by_inv.get(int(inv), np.zeros(0, dtype=np.int64))[-last:]
    return len(ents), int((snap.ent_sector[ents] == sector).sum()) if len(ents) else 0


def _district(code: str | None, lang: str = "zh") -> str:
    d = regions.district(code) if code else None
    return "" if d is None else (d.zh if lang == "zh" else d.en)


def _who(view: View) -> tuple[str, str]:
    return ("贵机构", "your") if view == "investor" else ("该机构", "the investor's")


def _r(code: str, zh: str, en: str, weight: float, kind: Literal["fit", "improve"] = "fit",
       **facts: Any) -> Reason:
    return Reason(code, zh, en, weight, kind, facts)


def explain_pair(snap: MarketSnapshot, inv: int, need: int, *, view: View = "investor",
                 contributions: np.ndarray | None = None, features: np.ndarray | None = None,
                 max_model: int = 2, ent: int | None = None) -> list[Reason]:
    """Reasons of an eligible (investor, need) pair: fit reasons strongest first, then improvements.

    Args:
        snap: the market.
        inv, need: investor and need rows (need ``-1``: a pair without a need; give ``ent``).
        view: who reads: ``"investor"`` (addressed as 贵机构) or ``"enterprise"``.
        contributions: the ranker's contributions row (features then bias), if a model scored it.
        features: the pair's feature row (values quoted by model reasons).
        max_model: most model-contribution reasons.
    """
    who, has_need = _who(view), need >= 0  # no need: a market without financing needs (imported deals)
    ent = int(snap.need_ent[need]) if has_need else int(ent)  # type: ignore[arg-type]
    out = _sector(snap, inv, ent, who) + (_ticket(snap, inv, need, who) if has_need else [])
    rnd, stages = int(snap.need_round[need]) if has_need else -1, int(snap.man_stages[inv])
    if rnd >= 0 and stages and (stages >> rnd) & 1:
        code, en = vocab.ROUNDS.codes[rnd], vocab.ROUNDS.label(vocab.ROUNDS.codes[rnd], "en")
        en = en if en.lower().endswith(" round") else f"{en} round"  # "Pre-IPO round" is already one
        out.append(_r("stage", f"融资轮次（{vocab.ROUNDS.label(code)}）符合{who[0]}的投资阶段",
                      f"The {en} is one of {who[1]} investment stages", 0.15, round=code))
    out += _place(snap, inv, ent, who) + _listing(snap, inv, ent, who)
    instr = int(snap.need_instr[need]) if has_need else 0
    if has_need and (DEBT_MASK >> instr) & 1:
        code = vocab.INSTRUMENTS.codes[instr]
        label = vocab.INSTRUMENTS.label(code)
        out.append(_r("instrument", f"融资工具：{label}，在{who[0]}可提供的工具范围内",
                      f"Instrument: {vocab.INSTRUMENTS.label(code, 'en')}, which {who[1]} mandate accepts",
                      0.05, instrument=code))
    if contributions is not None:
        out += model_reasons(contributions, features, max_model)
    fit = sorted((r for r in out if r.kind == "fit"), key=_strength)
    return fit + [r for r in out if r.kind == "improve"] + _improve(snap, ent, view)


def _sector(snap: MarketSnapshot, inv: int, ent: int, who: tuple[str, str]) -> list[Reason]:
    sec = int(snap.ent_sector[ent])
    if sec < 0:
        return []
    zh, en = snap.sectors.label(sec), snap.sectors.label(sec, "en")
    n, m = recent_deals(snap, inv, sec)
    facts = {"sector": snap.sectors.names[sec], "recent_deals": n, "in_sector": m}
    if sec in snap.man_sectors[inv]:
        tail_zh = f"{who[0]}近{n}笔投资中{m}笔" if m else f"{who[0]}投资领域"
        tail_en = f"{m} of {who[1]} last {n} investments" if m else f"in {who[1]} mandate"
        return [_r("sector_exact", f"行业匹配：{zh}（{tail_zh}）", f"Sector match: {en} ({tail_en})", 0.4,
                   **facts)]
    cl = int(snap.ent_cluster[ent])
    near = sorted(s for s in snap.man_sectors[inv] if cl >= 0 and snap.sectors.cluster[s] == cl)
    if near:
        other_zh, other_en = snap.sectors.label(near[0]), snap.sectors.label(near[0], "en")
        return [_r("sector_cluster", f"相关行业：{zh}与{who[0]}关注的{other_zh}同属一个产业集群",
                   f"Related sector: {en} is in the same industry cluster as {other_en}, which {who[1]} "
                   "mandate names", 0.2, mandate_sector=snap.sectors.names[near[0]], **facts)]
    if m:
        return [_r("sector_history", f"行业经验：{who[0]}近{n}笔投资中{m}笔在{zh}领域",
                   f"Sector experience: {m} of {who[1]} last {n} investments were in {en}", 0.15, **facts)]
    return []


def _ticket(snap: MarketSnapshot, inv: int, need: int, who: tuple[str, str]) -> list[Reason]:
    lo, hi = float(snap.man_ticket_min[inv]), float(snap.man_ticket_max[inv])
    if np.isnan(lo) and np.isnan(hi):
        return []
    amount = float(snap.need_amount[need])
    facts = {"amount": amount, "ticket_min": lo, "ticket_max": hi}
    rng_zh, rng_en = ticket_range(lo, hi), ticket_range(lo, hi, "en")
    if not amount < lo and not amount > hi:
        return [_r("ticket", f"融资需求{yuan(amount)}在{who[0]}单笔投资区间{rng_zh}内",
                   f"Amount sought {yuan_en(amount)} lies within {who[1]} ticket range {rng_en}", 0.15,
                   **facts)]
    low = amount < lo
    side_zh, side_en = ("低于", "below") if low else ("高于", "above")
    fix_zh = f"调整至{yuan(lo)}以上" if low else f"调整至{yuan(hi)}以内或分期融资"
    fix_en = f"raising it to {yuan_en(lo)}" if low else f"lowering it to {yuan_en(hi)} or splitting the round"
    return [_r("ticket_near_miss", f"融资需求{yuan(amount)}略{side_zh}{who[0]}单笔区间{rng_zh}，"
               f"{fix_zh}可完全符合",
               f"Amount sought {yuan_en(amount)} is just {side_en} {who[1]} ticket range {rng_en}; {fix_en} "
               "would fit it fully", 0.1, "improve", bound=lo if low else hi, **facts)]


def _place(snap: MarketSnapshot, inv: int, ent: int, who: tuple[str, str]) -> list[Reason]:
    out: list[Reason] = []
    code = snap.ent_district[ent]
    regions_mask = int(snap.man_regions[inv])
    if code and code in snap.man_districts[inv]:
        out.append(_r("district", f"地区：位于{who[0]}重点关注的{_district(code)}",
                      f"Location: {_district(code, 'en')}, a district {who[1]} mandate prefers", 0.1,
                      district=code))
    elif regions_mask:
        scopes = [c for i, c in enumerate(vocab.REGION_SCOPES.codes)
                  if (regions_mask >> i) & 1 and (int(snap.ent_region_mask[ent]) >> i) & 1]
        if scopes:
            elsewhere = snap.ent_province[ent] or snap.ent_country[ent]
            where_zh = f"重庆市{_district(code)}" if code else elsewhere
            where_en = f"{_district(code, 'en')}, Chongqing" if code else regions.province_en(elsewhere)
            scope = vocab.REGION_SCOPES.get(scopes[0])
            scope_zh, scope_en = scope.zh, scope.en
            out.append(_r("region", f"地区：位于{where_zh}，在{who[0]}投资地域（{scope_zh}）内",
                          f"Location: {where_en}, inside {who[1]} region ({scope_en})", 0.05,
                          district=code, scope=scopes[0]))
    if code and snap.inv_district[inv] == code and not np.isnan(snap.man_reinvest[inv]):
        out.append(_r("reinvest", f"返投：企业注册于{_district(code)}，与{who[0]}所在区县相同，"
                      "有助于满足返投要求",
                      f"Local reinvestment: registered in {_district(code, 'en')}, {who[1]} own district, "
                      f"which counts towards {who[1]} local reinvestment requirement", 0.05,
                      district=code))
    return out


def _listing(snap: MarketSnapshot, inv: int, ent: int, who: tuple[str, str]) -> list[Reason]:
    out: list[Reason] = []
    tier = vocab.TIERS.codes[int(snap.ent_tier[ent])]
    if int(snap.man_tiers[inv]):
        out.append(_r("tier", f"挂牌层级：{vocab.TIERS.label(tier)}（{who[0]}关注层级）",
                      f"Market tier: {vocab.TIERS.label(tier, 'en')} (a tier {who[1]} mandate names)", 0.05,
                      tier=tier))
    elif tier == "select":
        out.append(_r("tier", "挂牌层级：优选层（拟上市培育）",
                      "Market tier: Select tier (pre-IPO cultivation)", 0.05, tier=tier))
    both = int(snap.man_boards[inv]) & int(snap.ent_boards[ent])
    if both:
        codes = [c for i, c in enumerate(vocab.BOARDS.codes) if (both >> i) & 1]
        zh = "、".join(vocab.BOARDS.label(c) for c in codes)
        en = ", ".join(vocab.BOARDS.label(c, "en") for c in codes)
        out.append(_r("board", f"所属板块：{zh}（{who[0]}关注板块）",
                      f"Board: {en} (named by {who[1]} mandate)", 0.05, boards=codes))
    quals = [c for c in _QUAL_ORDER if (int(snap.ent_quals[ent]) >> QUAL[c]) & 1]
    if "little_giant" in quals and "srdi_municipal" in quals:
        quals.remove("srdi_municipal")  # the national title includes the municipal one
    if quals:
        zh = "、".join('国家级专精特新"小巨人"企业' if c == "little_giant" else vocab.QUALIFICATIONS.label(c)
                      for c in quals)
        en = ", ".join(vocab.QUALIFICATIONS.label(c, "en") for c in quals)
        out.append(_r("qualifications", f"资质：{zh}", f"Qualifications: {en}",
                      0.1 if "little_giant" in quals else 0.06, qualifications=quals))
    return out


#: The one reason standing for model signals on fields withheld from the reader: no field, no weight.
UNDISCLOSED = "model:undisclosed"


def model_reasons(contrib: np.ndarray, features: np.ndarray | None, k: int = 2, *,
                  withheld: frozenset[str] = frozenset()) -> list[Reason]:
    """The ``k`` features that raised the score most (of ``contrib``, one contributions row), skipping those a
    rule reason states; ``features`` (the pair's row) quotes shares (``None``: no value, as for parties).
    Signals on ``withheld`` features (from fields the reader may not see) become one :data:`UNDISCLOSED`."""
    values = np.asarray(contrib, dtype=np.float64).ravel()[:len(FEATURE_NAMES)]
    row, out = None if features is None else np.asarray(features, dtype=np.float64).ravel(), []
    for i in (int(i) for i in np.argsort(-values, kind="stable") if values[i] > 0):
        name = FEATURE_NAMES[i]
        if name in _COVERED:
            continue
        if name not in withheld:
            out.append(_model_reason(name, float(values[i]), None if row is None else float(row[i])))
        elif not any(r.code == UNDISCLOSED for r in out):
            out.append(Reason(UNDISCLOSED, "模型依据：经营数据（未公开）", "Model signal: undisclosed data", None))
        if len(out) >= k:
            break
    return out


def _model_reason(name: str, contribution: float, value: float | None) -> Reason:
    f = _LABEL[name]
    shown_zh = shown_en = ""
    if value is not None and not np.isnan(value) and name in _SHARES:
        shown_zh, shown_en = f"（{value:.0%}）", f" ({value:.0%})"
    return _r(f"model:{name}", f"模型依据：{f.zh}{shown_zh}提升了匹配评分",
              f"Model signal: {f.en}{shown_en} raised the score", contribution, feature=name,
              contribution=contribution, value=value)


def with_model_reasons(reasons: list[Reason], model: list[Reason] | None) -> list[Reason]:
    """``reasons`` (of :func:`explain_pair`) with their model reasons replaced by ``model`` (``None``: the
    same signals quoting no feature value), ordered as :func:`explain_pair` orders them."""
    if model is None:
        model = [_model_reason(r.facts["feature"], r.facts["contribution"], None) if "feature" in r.facts else r
                 for r in reasons if r.code.startswith("model:")]
    rules = [r for r in reasons if not r.code.startswith("model:")]
    fit = sorted((r for r in rules + model if r.kind == "fit"), key=_strength)
    return fit + [r for r in rules if r.kind == "improve"]


def _strength(r: Reason) -> float:
    """Sort key of fit reasons: strongest first; a reason without weight after every weighed one."""
    return -r.weight if r.weight is not None else float("inf")


def _improve(snap: MarketSnapshot, ent: int, view: View) -> list[Reason]:
    """What the enterprise could do (shown to the enterprise only)."""
    if view != "enterprise":
        return []
    out: list[Reason] = []
    tiers = snap.man_tiers
    if int(snap.ent_tier[ent]) == 0:
        only_up = (tiers != 0) & ((tiers & 1) == 0) & (((tiers >> 1) & 1) == 1)  # growth named, basic not
        growth_only = int((only_up & snap.inv_active).sum())
        if growth_only:
            out.append(_r("improve_tier", f"转入成长层：目前为基础层，平台上有{growth_only}家投资机构"
                          "只关注成长层等更高层级",
                          f"Move up to the growth tier: you are in the basic tier, and {growth_only} "
                          "investors on the platform only consider the growth tier or above", 0.05, "improve",
                          tier="basic", growth_only_investors=growth_only))
    if np.isnan(snap.ent_rd[ent]):
        out.append(_r("improve_rd", "补充研发数据：尚未披露研发投入占比，补充后画像更完整、匹配更准确",
                      "Add R&D data: your R&D spending ratio is not disclosed; adding it completes your "
                      "profile and sharpens matching", 0.03, "improve", rd_ratio=None))
    quals = int(snap.ent_quals[ent])
    srdi = (quals >> QUAL["srdi_municipal"]) & 1 or (quals >> QUAL["little_giant"]) & 1
    if srdi and not (int(snap.ent_boards[ent]) >> vocab.BOARDS.codes.index("srdi")) & 1:
        out.append(_r("improve_board", "申请进入专精特新板：已获专精特新资质，尚未进入该板块",
                      "Apply for the SRDI board: you hold an SRDI qualification but are not on that board",
                      0.03, "improve"))
    return out


@dataclass(frozen=True)
class SearchTerms:
    """Structured terms found in a free-text query (codes), with the words that named them."""

    sectors: dict[str, str] = field(default_factory=dict)  # industry code → matched word
    districts: dict[str, str] = field(default_factory=dict)  # district code → matched word
    rounds: dict[str, str] = field(default_factory=dict)  # round code → matched word

    def __len__(self) -> int:
        return len(self.sectors) + len(self.districts) + len(self.rounds)


def _words() -> list[tuple[str, str, str]]:
    words: list[tuple[str, str, str]] = []
    for ind in industries.INDUSTRIES:
        words += [(w, "sectors", ind.code) for w in (ind.zh, *ind.keywords) if len(w) >= 2]
    for d in regions.DISTRICTS:
        words += [(w, "districts", d.code) for w in {d.zh, d.zh.rstrip("区县")} if len(w) >= 2]
    words += [(t.zh, "rounds", t.code) for t in vocab.ROUNDS if t.code not in ("other", "strategic", "debt")]
    return sorted(words, key=lambda w: -len(w[0]))  # longest first: "Pre-A轮" before "A轮"


_SEARCH_WORDS = _words()


def search_terms(text: str) -> SearchTerms:
    """Industries (names and keywords), districts and rounds named in ``text``, longest match first."""
    rest = text
    found = SearchTerms()
    for word, kind, code in _SEARCH_WORDS:
        if word in rest:
            getattr(found, kind).setdefault(code, word)
            rest = rest.replace(word, "\0")
    return found


def explain_search(snap: MarketSnapshot, terms: SearchTerms, *, ent: int | None = None,
                   inv: int | None = None) -> tuple[list[Reason], int]:
    """Reasons why a search hit matches the query's structured terms, and how many terms it matched."""
    out: list[Reason] = []
    if ent is not None:
        sector = snap.sectors.names[int(snap.ent_sector[ent])] if snap.ent_sector[ent] >= 0 else None
        sectors = {sector} if sector else set()
        districts = {snap.ent_district[ent]} if snap.ent_district[ent] else set()
        rounds = {vocab.ROUNDS.codes[int(snap.need_round[n])] for n in snap.needs_of(ent)
                  if snap.need_open[n] and snap.need_round[n] >= 0}
    else:
        assert inv is not None
        sectors = {snap.sectors.names[s] for s in snap.man_sectors[inv]}
        home = snap.inv_district[inv]
        districts = set(snap.man_districts[inv]) | ({home} if home else set())
        stages = int(snap.man_stages[inv])
        rounds = {c for i, c in enumerate(vocab.ROUNDS.codes) if (stages >> i) & 1}
    for code, word in terms.sectors.items():
        if code in sectors:
            ind = industries.industry(code)
            out.append(_r("search_sector", f"行业：{ind.zh}（与检索词“{word}”匹配）",
                          f"Sector: {ind.en} (matches “{word}”)", 1.0, sector=code))
    for code, word in terms.districts.items():
        if code in districts:
            out.append(_r("search_district", f"地区：{_district(code)}（与检索词“{word}”匹配）",
                          f"District: {_district(code, 'en')} (matches “{word}”)", 1.0, district=code))
    for code, word in terms.rounds.items():
        if code in rounds:
            out.append(_r("search_round", f"轮次：{vocab.ROUNDS.label(code)}（与检索词“{word}”匹配）",
                          f"Round: {vocab.ROUNDS.label(code, 'en')} (matches “{word}”)", 1.0, round=code))
    return out, len(out)
