"""What an enterprise lacks for a programme, in Chinese and English (:func:`describe`).

Numbers say the threshold, the enterprise's own figure and the difference: "员工人数须不少于 100 人
（现 85 人，差 15 人）". A figure never reported asks for it: "未填报员工人数，请补充最近年度数据".
Amounts are shown in 万元, ages in years to one decimal.
"""

from __future__ import annotations

from datetime import date

from matching.domain import vocab
from matching.domain.programme import Programme
from matching.programmes.eligibility import EnterpriseColumns, Missing, ages, district_label, industry_label


def wan(yuan: float) -> str:
    """An amount in 万元 without needless decimals: 20000000 → ``2,000``; 125000 → ``12.5``."""
    text = f"{yuan / 1e4:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _labels(v: vocab.Vocabulary, codes: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(v.label(c, lang) for c in codes)


_UNKNOWN = {
    "employees": ("未填报员工人数，请补充最近年度数据", "employees not reported: add the latest year's figures"),
    "revenue": ("未填报营业收入，请补充最近年度数据", "revenue not reported: add the latest year's figures"),
    "age": ("未填报成立日期，请补充", "founding date not given: add it to the profile"),
}


def describe(programme: Programme, rule: str, cols: EnterpriseColumns, row: int, today: date, unknown: bool,
             gap: float | None) -> Missing:
    """The :class:`Missing` entry of one failed ``rule`` of ``programme`` for enterprise ``row``."""
    p, r = programme, row
    if rule == "districts":
        zh = f"注册地须在{'、'.join(district_label(d) for d in p.districts)}（现为{district_label(cols.district[r])}）"
        en = (f"must be registered in {', '.join(district_label(d, 'en') for d in p.districts)} "
              f"(now {district_label(cols.district[r], 'en')})")
        return Missing(rule, zh, en)
    if rule == "tiers":
        now = vocab.TIERS.codes[int(cols.tier[r])]
        return Missing(rule, f"须为{_labels(vocab.TIERS, p.tiers, 'zh')}企业（现为{vocab.TIERS.label(now)}）",
                       f"tier must be {_labels(vocab.TIERS, p.tiers, 'en')} (now {vocab.TIERS.label(now, 'en')})")
    if rule == "boards":
        return Missing(rule, f"须入选特色板块：{_labels(vocab.BOARDS, p.boards, 'zh')}（任一）",
                       f"must be on one of the boards: {_labels(vocab.BOARDS, p.boards, 'en')}")
    if rule == "qualifications":
        return Missing(rule, f"须具备资质：{_labels(vocab.QUALIFICATIONS, p.qualifications, 'zh')}（任一）",
                       f"needs one of the qualifications: {_labels(vocab.QUALIFICATIONS, p.qualifications, 'en')}")
    if rule == "industries":
        zh = f"行业须为{'、'.join(industry_label(c) for c in p.industries)}（现为{industry_label(cols.industry[r])}）"
        en = (f"industry must be {', '.join(industry_label(c, 'en') for c in p.industries)} "
              f"(now {industry_label(cols.industry[r], 'en')})")
        return Missing(rule, zh, en)
    if rule in ("min_employees", "max_employees"):
        if unknown:
            return Missing(rule, *_UNKNOWN["employees"], unknown=True)
        have, bound = int(cols.employees[r]), int(getattr(p, rule))
        if rule == "min_employees":
            return Missing(rule, f"员工人数须不少于 {bound} 人（现 {have} 人，差 {bound - have} 人）",
                           f"at least {bound} employees (has {have}, {bound - have} short)", gap)
        return Missing(rule, f"员工人数须不超过 {bound} 人（现 {have} 人，超出 {have - bound} 人）",
                       f"at most {bound} employees (has {have}, {have - bound} over)", gap)
    if rule in ("min_revenue", "max_revenue"):
        if unknown:
            return Missing(rule, *_UNKNOWN["revenue"], unknown=True)
        have, bound = float(cols.revenue[r]), float(getattr(p, rule))
        b, h, d = wan(bound), wan(have), wan(abs(bound - have))
        if rule == "min_revenue":
            return Missing(rule, f"最近年度营业收入须不低于 {b} 万元（现 {h} 万元，差 {d} 万元）",
                           f"latest revenue at least {b} 万元 (has {h}, {d} short)", gap)
        return Missing(rule, f"最近年度营业收入须不超过 {b} 万元（现 {h} 万元，超出 {d} 万元）",
                       f"latest revenue at most {b} 万元 (has {h}, {d} over)", gap)
    if rule in ("min_age_years", "max_age_years"):
        if unknown:
            return Missing(rule, *_UNKNOWN["age"], unknown=True)
        have, bound = float(ages(cols, today)[r]), float(getattr(p, rule))
        if rule == "min_age_years":
            return Missing(rule, f"成立须满 {bound:g} 年（现 {have:.1f} 年）",
                           f"founded at least {bound:g} years ago (now {have:.1f} years)", gap)
        return Missing(rule, f"成立不超过 {bound:g} 年（现 {have:.1f} 年）",
                       f"founded at most {bound:g} years ago (now {have:.1f} years)", gap)
    raise ValueError(f"unknown rule {rule!r}; allowed: districts, tiers, boards, qualifications, industries, "
                     "min/max_employees, min/max_revenue, min/max_age_years")
