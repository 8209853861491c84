"""Deterministic profile and mandate texts for the encoder, Chinese first.

The same record always gives the same text (so the embedding cache hits), structured fields come
first in a fixed order, then the free text. Labels are the Chinese ones of the vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

from matching.domain import industries, regions, vocab
from matching.domain.records import Enterprise, Investor, Mandate, Need, Secondary

MAX_FREE_TEXT = 400  # characters of description/thesis kept (the encoder truncates at 512 tokens)


def _labels(v: vocab.Vocabulary, codes: Sequence[str]) -> str:
    return "、".join(v.label(c) for c in codes if c in v)


def _industry(code: str | None, raw: str | None) -> str:
    if code:
        try:
            return industries.industry(code).zh
        except KeyError:
            return code
    return raw or ""


def _place(district_code: str | None, province: str | None, country: str | None) -> str:
    if district_code:
        try:
            return "重庆市" + regions.district(district_code).zh
        except KeyError:
            return district_code
    return " ".join(p for p in (province, country if country not in (None, "CN") else None) if p)


def yuan(amount: float | None) -> str:
    """Amount in the units people read: 万元 / 亿元 (e.g. 5000万元, 1.2亿元)."""
    if amount is None:
        return "未披露"
    if round(amount / 1e4, 1) >= 1e4:  # 99,999,999 reads 1亿元, not 10,000.0万元
        yi = amount / 1e8
        return f"{yi:,.0f}亿元" if yi >= 1000 else f"{yi:.4g}亿元"
    if amount >= 1e4:
        return f"{amount / 1e4:,.0f}万元" if amount % 1e4 == 0 else f"{amount / 1e4:,.1f}万元"
    return f"{amount:,.0f}元"


def enterprise_text(e: Enterprise, needs: Sequence[Need] = ()) -> str:
    """Profile text of an enterprise (plus its open needs).

    A record with neither a description nor a credit code (an imported foreign company: CrunchBase,
    investment-event files) is described by its sector, place and city, not its name: a brand name
    tells the encoder nothing about the business and would make every such text unique. A registered
    Chinese enterprise's legal name (科技、医药、…) does describe it and stays.

    Needs are not part of the text: their status changes over time and the text is not versioned, so
    today's open needs in a text would tell training which needs were still open later.
    """
    parts = [e.name] if e.description or e.credit_code or e.source == "platform" else []
    ind = _industry(e.industry_code, e.industry_raw)
    if ind:
        parts.append(f"行业：{ind}")
    place = _place(e.district_code, e.province, e.country)
    if e.city and not e.district_code:
        place = f"{e.city} {place}".strip()
    if place:
        parts.append(f"地区：{place}")
    parts.append(f"层级：{vocab.TIERS.label(e.tier)}")
    if e.boards:
        parts.append(f"板块：{_labels(vocab.BOARDS, e.boards)}")
    if e.qualifications:
        parts.append(f"资质：{_labels(vocab.QUALIFICATIONS, e.qualifications)}")
    if e.listing_target and e.listing_target != "none":
        parts.append(f"上市目标：{vocab.LISTING_TARGETS.label(e.listing_target)}")
    for n in sorted(needs, key=lambda n: n.ref):
        if n.status in vocab.LIVE_NEED_STATUSES:
            rnd = f"{vocab.ROUNDS.label(n.round)} " if n.round in vocab.ROUNDS else ""
            parts.append(f"融资需求：{rnd}{vocab.INSTRUMENTS.label(n.instrument)} {yuan(n.amount)}")
    text = "；".join(parts)
    if e.description:
        text += "。" + e.description.strip()[:MAX_FREE_TEXT]
    return text


def mandate_text(investor: Investor, mandate: Mandate | None) -> str:
    """Mandate text of an investor (its current mandate version).

    An investor with neither a mandate nor a description has no text of its own (only its type): it
    is described by its portfolio instead (:func:`matching.features.table.compute_features` uses the
    centroid of its past companies' vectors, see :attr:`MarketSnapshot.inv_described`).
    """
    if not described(investor, mandate):
        return f"类型：{vocab.INVESTOR_TYPES.label(investor.investor_type)}"
    parts = [investor.name, f"类型：{vocab.INVESTOR_TYPES.label(investor.investor_type)}"]
    if mandate is not None:
        sectors = [_industry(s, None) for s in mandate.sectors] + list(mandate.sectors_raw)
        parts.append(f"投资领域：{'、'.join(sectors) if sectors else '不限'}")
        if mandate.stages:
            parts.append(f"阶段：{_labels(vocab.ROUNDS, mandate.stages)}")
        if mandate.ticket_min is not None or mandate.ticket_max is not None:
            parts.append(f"单笔：{yuan(mandate.ticket_min)}–{yuan(mandate.ticket_max)}")
        if mandate.regions:
            parts.append(f"地域：{_labels(vocab.REGION_SCOPES, mandate.regions)}")
        if mandate.tiers:
            parts.append(f"层级：{_labels(vocab.TIERS, mandate.tiers)}")
        if mandate.boards:
            parts.append(f"板块：{_labels(vocab.BOARDS, mandate.boards)}")
        if mandate.instruments:
            parts.append(f"工具：{_labels(vocab.INSTRUMENTS, mandate.instruments)}")
    text = "；".join(parts)
    free = (mandate.thesis if mandate else "") or investor.description
    if free:
        text += "。" + free.strip()[:MAX_FREE_TEXT]
    return text


def described(investor: Investor, mandate: Mandate | None) -> bool:
    """Whether an investor has a text of its own (a written mandate or a description)."""
    return mandate is not None or bool((investor.description or "").strip())


def secondary_text(listing: Secondary, underlying: str | None = None, sector: str | None = None) -> str:
    """Text of a secondary listing for the encoder: kind, fund, underlying enterprise and its sector label,
    then the description."""
    parts = [vocab.SECONDARY_KINDS.label(listing.kind) if listing.kind in vocab.SECONDARY_KINDS else listing.kind]
    if listing.fund_name:
        parts.append(listing.fund_name)
    if underlying is not None:
        parts.append(underlying)
        if sector is not None:
            parts.append(f"行业：{sector}")
    text = "；".join(parts)
    return text + ("。" + listing.description.strip()[:400] if listing.description else "")
