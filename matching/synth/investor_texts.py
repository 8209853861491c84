"""Chinese text of the demand side: investor names, descriptions, mandate theses, listings."""

from __future__ import annotations

from collections.abc import Sequence

from matching.domain.industries import industry
from matching.domain.vocab import INSTRUMENTS, INVESTOR_STATUSES, INVESTOR_TYPES
from matching.synth.lexicon import DEBT_POINTS, PROFILES, S_POINTS, VALUE_ADDS
from matching.synth.texts import Dice, money, unique_name

_THEMES = ("科技创新", "战略性新兴产业", "先进制造", "专精特新", "种子", "天使", "转型升级", "数字经济",
           "绿色发展", "乡村振兴", "智能网联汽车", "生物医药", "新材料", "高质量发展")
_ARMS = (("创新投资有限公司", "Innovation Investment"), ("资本管理有限公司", "Capital Management"),
         ("另类投资有限公司", "Alternative Investment"), ("私募基金管理有限公司", "Private Equity"))


def investor_name(d: Dice, seen: set[str], *, kind: str, level: str | None, city: str, district: str,
                  foreign: tuple[str, str], industry_code: str | None) -> tuple[str, str, str]:
    """A unique Chinese name fitting the type, a brand (place + trade name) and an English name."""
    dist = district.removesuffix("区").removesuffix("县") if len(district) > 2 else district
    theme = d.pick(_THEMES)
    form = d.random()

    def build(trade: str, py: str) -> tuple[str, str, str]:
        if kind == "vc":
            zh = (f"{city}{trade}创业投资基金合伙企业（有限合伙）" if form < 0.4 else
                  f"{city}{trade}创新投资管理有限公司" if form < 0.7 else f"{trade}天使投资基金（有限合伙）")
            en = f"{py} Ventures"
        elif kind == "pe":
            zh = (f"{city}{trade}股权投资基金合伙企业（有限合伙）" if form < 0.5 else
                  f"{trade}资本管理有限公司" if form < 0.8 else f"{city}{trade}私募股权投资基金管理有限公司")
            en = f"{py} Capital"
        elif kind == "s_fund":
            zh = (f"{city}{trade}私募股权二级投资基金合伙企业（有限合伙）" if form < 0.5 else
                  f"{trade}S基金（有限合伙）" if form < 0.75 else f"{city}{trade}份额转让投资基金")
            en = f"{py} Secondaries Fund"
        elif kind == "state_fund" and level == "municipal":
            zh = (f"重庆{trade}{theme}股权投资基金合伙企业（有限合伙）" if form < 0.6
                  else f"重庆市{trade}{theme}引导基金")
            en = f"Chongqing {py} Guidance Fund"
        elif kind == "state_fund":
            zh = (f"重庆{dist}{trade}{theme}发展基金" if form < 0.6
                  else f"{district}{trade}股权投资基金（有限合伙）")
            en = f"Chongqing {py} District Fund"
        elif kind == "securities_arm":
            arm, arm_en = d.pick(_ARMS)
            zh, en = f"{trade}证券{arm}", f"{py} Securities {arm_en}"
        elif kind == "bank":
            zh = (f"{trade}银行重庆分行" if form < 0.4 else f"重庆{dist}{trade}村镇银行" if form < 0.7
                  else f"{trade}银行重庆{dist}科技支行")
            en = f"{py} Bank Chongqing"
        elif kind == "guarantee":
            zh = f"重庆{trade}融资担保有限公司" if form < 0.6 else f"重庆{dist}{trade}科技融资担保有限公司"
            en = f"Chongqing {py} Financing Guarantee"
        elif kind == "qfi":
            place, place_en = foreign
            zh = f"{place}{trade}资本（QFLP）" if form < 0.5 else f"{trade}（{place}）投资管理有限公司"
            en = f"{py} Capital Partners ({place_en})"
        elif kind == "corporate":
            word = d.pick(PROFILES[industry_code or "smart_equipment"].names)[0]
            zh = f"重庆{trade}{word}集团有限公司" if form < 0.6 else f"{trade}产业投资有限公司"
            en = f"{py} Group"
        else:  # lender
            zh = (f"重庆{trade}融资租赁有限公司" if form < 0.4
                  else f"重庆{trade}商业保理有限公司" if form < 0.7
                  else f"重庆{dist}{trade}小额贷款有限公司")
            en = f"Chongqing {py} Finance"
        if kind == "state_fund":
            brand = f"重庆{dist}{trade}" if level == "district" else f"重庆{trade}"
        else:
            brand = trade if kind == "qfi" else f"{city}{trade}"
        return zh, brand, en

    return unique_name(d, seen, build)


def investor_description(d: Dice, *, kind: str, status: str, aum: float, city: str) -> str:
    """One or two sentences: what the investor is, its size and where it stands in its life."""
    label = INVESTOR_TYPES.label(kind)
    stage = INVESTOR_STATUSES.label(status)
    size_word = "资产规模" if kind in ("bank", "guarantee", "lender") else "管理规模"
    first = d.pick((f"总部位于{city}的{label}，{size_word}约{money(aum)}",
                    f"{label}，{size_word}约{money(aum)}，当前处于{stage}",
                    f"{size_word}{money(aum)}的{label}"))
    return first + "。"


def thesis(d: Dice, *, kind: str, sectors: Sequence[str], stages: Sequence[str], ticket_min: float,
           ticket_max: float, regions: Sequence[str], district: str | None, reinvest: float | None,
           instruments: Sequence[str], excluded: Sequence[str]) -> str:
    """The mandate's free-text thesis, varied in content and order."""
    names = [industry(s).zh for s in sectors]
    focus = "、".join(names) if names else ""
    ticket = f"{money(ticket_min)}至{money(ticket_max)}"
    parts: list[str] = []
    if kind in ("bank", "guarantee", "lender"):
        products = "、".join(INSTRUMENTS.label(i) for i in instruments)
        parts.append(d.pick((f"为科技型中小企业提供{products}等产品", f"主要产品包括{products}")))
        parts.append(d.pick((f"单户额度{ticket}", f"单笔融资{ticket}")))
        parts.append(d.pick(DEBT_POINTS))
        if focus:
            parts.append(f"重点支持{focus}领域企业")
    elif kind == "s_fund":
        parts.append(d.pick(S_POINTS))
        parts.append(d.pick((f"单笔交易{ticket}", f"单个项目投资{ticket}")))
        parts.append(d.pick(("偏好折价20%以上的份额", "关注底层资产质量与退出路径", "可快速完成交易交割")))
    else:
        stage_word = _stage_words(stages)
        if focus:
            parts.append(d.pick((f"重点关注{focus}等领域", f"聚焦{focus}赛道",
                                 f"专注投资{focus}方向的{stage_word}企业")))
        else:
            parts.append(d.pick(("不限行业，关注具备核心竞争力的优质企业",
                                 f"行业不限，偏好{stage_word}企业")))
        parts.append(d.pick((f"单笔投资金额{ticket}", f"单个项目投资{ticket}", f"投资额度一般为{ticket}")))
        parts.extend(d.sample(VALUE_ADDS, d.between(1, 2)))
    if district:
        parts.append(d.pick((f"优先支持{district}企业", f"助力{district}产业发展")))
    if reinvest:
        parts.append(f"返投比例不低于{reinvest:.1f}倍")
    elif "chongqing" in regions:
        local = "服务重庆本地企业" if kind in ("bank", "guarantee", "lender") else "优先投资重庆本地企业"
        parts.append(d.pick((local, "立足重庆")))
    elif "chengyu" in regions:
        parts.append("立足成渝地区双城经济圈")
    elif "western" in regions:
        parts.append("立足西部、辐射全国")
    elif "overseas" in regions:
        parts.append("可跨境投资，熟悉红筹与VIE架构")
    if excluded:
        parts.append(f"不投资{'、'.join(industry(s).zh for s in excluded)}")
    head, tail = parts[:1], parts[1:]
    tail = d.sample(tail, len(tail))
    return d.pick(("，", "；")).join(head + tail) + "。"


def _stage_words(stages: Sequence[str]) -> str:
    if not stages:
        return "各阶段"
    if any(s in ("seed", "angel", "pre_a") for s in stages):
        return "早期"
    if any(s in ("pre_ipo", "d_plus") for s in stages):
        return "成熟期"
    return "成长期"


def fund_interest_text(d: Dice, *, fund_name: str, nav: float, vintage: int) -> str:
    """Description of a fund LP interest for sale."""
    n = d.between(5, 40)
    listed = d.between(1, max(1, n // 4))
    assets = d.pick(("硬科技", "先进制造", "医疗健康", "消费"))
    return d.pick((
        f"转让{fund_name}部分LP份额，基金{vintage}年设立，已投项目{n}个，其中{listed}个已上市或申报IPO。",
        f"{vintage}年份基金份额，对应净值约{money(nav)}，底层资产以{assets}为主。",
        f"基金进入退出期，LP寻求流动性，份额净值约{money(nav)}，已投项目{n}个。",
    ))


def old_shares_text(d: Dice, *, short: str, pct: float, valuation: float) -> str:
    """Description of a block of existing shares for sale."""
    return d.pick((
        f"转让{short}{pct:.1f}%股权，对应投后估值约{money(valuation)}。",
        f"老股转让：{short}约{pct:.1f}%股份，企业经营稳健，估值约{money(valuation)}。",
        f"早期投资方退出，出让{short}{pct:.1f}%股权。",
    ))
