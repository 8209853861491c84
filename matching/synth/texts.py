"""Chinese text of the synthetic market: company names, descriptions, theses, notes.

Text is composed from fragments (openings, business lines, technology, market, achievements,
people, plans) whose choice, order and joints vary per record, so descriptions differ in
structure and length rather than filling one template. All randomness comes from a :class:`Dice`
fed with uniforms that the caller drew from the market's ``numpy`` generator, so the same seed
writes the same text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from matching.domain.industries import industry as industry_of
from matching.synth.lexicon import (
    FOREIGN_MARKETS,
    INVESTOR_KINDS,
    NATURE,
    PROFILES,
    TRADE_CHARS,
    UNIVERSITIES,
)

T = TypeVar("T")

_FOUNDERS = ("海归博士团队", "高校科研团队", "行业资深人士", "大型国企技术骨干", "连续创业者", "知名企业高管")
_LEVELS = ("市级", "国家级", "区级")
_TEAMS = ("华为、长安等知名企业", "清华、重大等高校", "国内头部同行", "海外知名企业")
_HONOURS = ("优秀民营企业", "瞪羚企业", "创新型示范企业", "诚信示范企业", "质量标杆企业")
# Short forms of industry name words whose first two characters read badly (新能源 → 能源).
_SHORT = {"新能源汽车": "汽车", "新材料": "材料", "高分子材料": "材料", "自动化设备": "自动化",
          "农产品开发": "农业", "轻合金": "合金", "新能源": "能源", "半导体": "半导体", "微电子": "微电子",
          "人工智能": "智能", "无人机": "无人机", "通用航空": "通航", "机器人": "机器人",
          "自动化科技": "自动化", "供应链": "供应链"}
_TARGET_ZH = {"star": "上交所科创板", "sse_main": "上交所主板", "szse_main": "深交所主板",
              "chinext": "深交所创业板", "bse": "北交所", "neeq": "新三板"}


class Dice:
    """Choices drawn from a row of pre-drawn uniforms, topped up from ``rng`` when used up.

    Text is composed per record in Python; drawing each choice from ``numpy`` one by one would cost
    more than the text itself, so rows of uniforms are drawn in bulk and consumed here.
    """

    __slots__ = ("_next", "_rng")

    def __init__(self, uniforms: list[float], rng: np.random.Generator) -> None:
        self._next = iter(uniforms).__next__
        self._rng = rng

    def _refill(self) -> float:
        self._next = iter(self._rng.random(32).tolist()).__next__
        return self._next()

    def random(self) -> float:
        """The next uniform in [0, 1)."""
        try:
            return self._next()
        except StopIteration:
            return self._refill()

    def pick(self, seq: Sequence[T]) -> T:
        """One element, uniformly."""
        try:
            u = self._next()
        except StopIteration:
            u = self._refill()
        return seq[int(u * len(seq))]

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p

    def between(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``."""
        return lo + int(self.random() * (hi - lo + 1))

    def two(self, seq: Sequence[T]) -> tuple[T, T]:
        """Two distinct elements (``seq`` has at least two)."""
        n = len(seq)
        i = int(self.random() * n)
        return seq[i], seq[(i + 1 + int(self.random() * (n - 1))) % n]

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """``k`` distinct elements in random order (partial Fisher–Yates)."""
        pool = list(seq)
        k = min(k, len(pool))
        for i in range(k):
            j = i + int(self.random() * (len(pool) - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def money(yuan: float) -> str:
    """An amount in yuan as people write it: ``3000万元``, ``1.5亿元``."""
    if yuan >= 1e8:
        text = f"{yuan / 1e8:.1f}".rstrip("0").rstrip(".")
        return f"{text}亿元"
    return f"{max(yuan, 0) / 1e4:.0f}万元"


def trade_name(d: Dice, length: int) -> tuple[str, str]:
    """A trade name (字号) of ``length`` distinct characters and its pinyin."""
    chars: list[tuple[str, str]] = []
    while len(chars) < length:
        c = d.pick(TRADE_CHARS)
        if c not in chars:
            chars.append(c)
    return "".join(c for c, _ in chars), "".join(p for _, p in chars).capitalize()


#: Builds (name, short name, English name) from a trade name and its pinyin.
NameBuilder = Callable[[str, str], tuple[str, str, str]]


def unique_name(d: Dice, seen: set[str], build: NameBuilder) -> tuple[str, str, str]:
    """Call ``build(d, trade, pinyin)`` with longer trade names until the name is new."""
    for attempt in range(60):
        trade, pinyin = trade_name(d, 2 if attempt < 4 else 3 if attempt < 30 else 4)
        name, short, en = build(trade, pinyin)
        if name not in seen:
            seen.add(name)
            return name, short, en
    raise RuntimeError("could not find a unique company name")  # pragma: no cover - 4-char space is huge


def enterprise_name(d: Dice, seen: set[str], *, industry: str, city: str, tier: str) -> tuple[str, str, str]:
    """A unique company name: ``重庆`` + 字号 + industry word + 有限公司 / 股份有限公司."""
    zh_word, en_word = d.pick(PROFILES[industry].names)
    joint_stock = d.chance({"basic": 0.05, "growth": 0.7, "select": 0.95}[tier])
    if joint_stock:
        suffix, en_suffix = "股份有限公司", "Co., Ltd. (joint-stock)"
    else:
        suffix, en_suffix = "有限公司", "Co., Ltd."
    prefix = "重庆市" if city == "重庆" and d.chance(0.1) else city
    en_city = "Chongqing" if city == "重庆" else ""

    def build(trade: str, pinyin: str) -> tuple[str, str, str]:
        name = f"{prefix}{trade}{zh_word}{suffix}"
        en = " ".join(p for p in (en_city, pinyin, en_word, en_suffix) if p)
        return name, trade + _SHORT.get(zh_word, zh_word[:2]), en

    return unique_name(d, seen, build)


@dataclass(slots=True)
class EnterpriseFacts:
    """What a description may mention about one enterprise."""

    name: str
    short: str
    place: str
    industry: str
    industry_zh: str
    keywords: tuple[str, ...]
    founded_year: int
    age: int
    tier: str
    qualifications: list[str]
    listing_target: str
    patents: int
    rd_ratio: float
    revenue: float
    growth: float
    employees: int
    report_year: int


def describe_enterprise(d: Dice, f: EnterpriseFacts) -> str:
    """A varied Chinese description of 40–200 characters.

    An opening (8 kinds) and a business line (7 kinds) joined in one of several ways, then up to
    four extra sentences (technology, market, achievement, people, plans) in random order with
    varying punctuation. Only the chosen fragments are formatted.
    """
    prof = PROFILES[f.industry]
    kw = d.pick(_long_keywords(f.industry))
    p1, p2 = d.two(prof.products)
    c1, c2 = d.two(prof.customers)
    t1, t2 = d.two(prof.techs)
    opening = d.between(0, 7)
    if opening == 0:
        lead = f"{f.name}成立于{f.founded_year}年，注册地位于{f.place}"
    elif opening == 1:
        lead = f"公司位于{f.place}，是一家专注于{kw}的{d.pick(NATURE)}"
    elif opening == 2:
        lead = (f"{f.short}深耕{f.industry_zh}领域{f.age}年" if f.age >= 3
                else f"{f.short}是{f.industry_zh}领域的新锐企业")
    elif opening == 3:
        lead = f"作为{f.place}重点培育的{f.industry_zh}企业，{f.short}"
    elif opening == 4:
        lead = d.pick(("公司", f.short, "企业"))
    elif opening == 5:
        lead = f"{f.short}是{f.place}的一家{d.pick(NATURE)}"
    elif opening == 6:
        lead = f"{f.founded_year}年，{f.short}在{f.place}注册成立"
    else:
        lead = f"{f.short}由{d.pick(_FOUNDERS)}创办"
    kind = d.between(0, 6)
    if kind == 0:
        business = f"主要从事{p1}、{p2}的研发、生产和销售"
    elif kind == 1:
        business = f"核心产品为{p1}和{p2}"
    elif kind == 2:
        business = f"聚焦{kw}，为{c1}提供{p1}及配套服务"
    elif kind == 3:
        business = f"主营{p1}，兼营{p2}"
    elif kind == 4:
        business = f"以{t1}为核心，开发了{p1}等系列产品"
    elif kind == 5:
        p3 = d.pick([p for p in prof.products if p != p1 and p != p2])
        business = f"业务涵盖{p1}、{p2}、{p3}等"
    else:
        business = f"致力于成为{kw}细分领域的领先供应商，主打{p1}"
    joint = "" if opening in (3, 4) else d.pick(("，", "。公司", "，公司", f"。{f.short}"))
    text = f"{lead}{joint}{business}"
    wanted = d.between(0, 4)
    for n, group in enumerate(d.sample(range(5), 5)):
        if n >= wanted and len(text) >= 39:
            break
        if group == 0:
            sentence = _tech(d, f, t1, t2)
        elif group == 1:
            sentence = _market(d, f, kw, c1, c2)
        elif group == 2:
            sentence = _achievement(d, f)
        elif group == 3:
            sentence = _people(d, f)
        else:
            sentence = _plan(d, f, kw, p1)
        candidate = text + d.pick(_STOPS) + sentence
        if len(candidate) + 1 > 200:
            break
        text = candidate
    return text + "。"


_STOPS = ("。", "。", "。", "；", "，")
_KEYWORDS: dict[str, list[str]] = {}


def _long_keywords(code: str) -> list[str]:
    """An industry's keywords without single characters (锂, 硅 are search terms, not phrases)."""
    found = _KEYWORDS.get(code)
    if found is None:
        found = _KEYWORDS[code] = [k for k in industry_of(code).keywords if len(k) > 1]
    return found


def _tech(d: Dice, f: EnterpriseFacts, t1: str, t2: str) -> str:
    k = d.between(0, 5)
    if k == 0:
        return f"拥有发明专利{f.patents}项" if f.patents else "已申请多项发明专利"
    if k == 1:
        return f"自主研发的{t1}技术达到国内先进水平"
    if k == 2:
        return f"建有{d.pick(_LEVELS)}企业技术中心，研发投入占营业收入的{f.rd_ratio * 100:.1f}%"
    if k == 3:
        return f"与{d.pick(UNIVERSITIES)}共建联合实验室"
    if k == 4:
        return f"掌握{t1}、{t2}等关键技术"
    return f"研发人员占比约{min(70, max(5, round(f.rd_ratio * 250)))}%"


def _market(d: Dice, f: EnterpriseFacts, kw: str, c1: str, c2: str) -> str:
    k = d.between(0, 5)
    if k == 0:
        return f"产品已批量供应{c1}"
    if k == 1:
        return f"客户覆盖{c1}和{c2}"
    if k == 2:
        trend = (f"同比增长{f.growth * 100:.0f}%" if f.growth >= 0.005 else
                 "与上年基本持平" if f.growth > -0.05 else "同比有所下降")
        return f"{f.report_year}年营业收入约{money(f.revenue)}，{trend}"
    if k == 3:
        return f"服务客户超过{d.pick((30, 50, 80, 100, 200, 500, 1000))}家"
    if k == 4:
        return f"产品远销{d.pick(FOREIGN_MARKETS)}等{d.between(3, 40)}个国家和地区"
    return f"在{kw}细分市场占有率位居西南地区前列"


def _achievement(d: Dice, f: EnterpriseFacts) -> str:
    q = f.qualifications
    options = [x for x, ok in (("giant", "little_giant" in q), ("srdi", "srdi_municipal" in q),
                               ("high_tech", "high_tech" in q), ("reserve", "ipo_reserve" in q),
                               ("target", f.listing_target in _TARGET_ZH), ("reform", f.tier != "basic"),
                               ("backed", "pe_vc_backed" in q)) if ok]
    choice = d.pick(options) if options else "honour"
    if choice == "giant":
        return "获评国家级专精特新“小巨人”企业"
    if choice == "srdi":
        return "是重庆市专精特新中小企业"
    if choice == "high_tech":
        return d.pick(("先后获得高新技术企业、知识产权优势企业等资质", "是国家高新技术企业"))
    if choice == "reserve":
        return "已入选重庆市拟上市企业后备库"
    if choice == "target":
        return f"计划于{f.report_year + d.between(2, 4)}年申报{_TARGET_ZH[f.listing_target]}上市"
    if choice == "reform":
        return "已完成股份制改造"
    if choice == "backed":
        return f"曾获{d.pick(INVESTOR_KINDS)}投资"
    return f"获评{f.place}“{d.pick(_HONOURS)}”"


def _people(d: Dice, f: EnterpriseFacts) -> str:
    k = d.between(0, 2)
    if k == 0:
        return f"现有员工{f.employees}人"
    if k == 1:
        return f"核心团队来自{d.pick(_TEAMS)}"
    staff, researchers = max(10, f.employees // 10 * 10), max(1, int(f.employees * f.rd_ratio * 2))
    return f"员工{staff}余人，其中研发人员{researchers}人"


def _plan(d: Dice, f: EnterpriseFacts, kw: str, p1: str) -> str:
    k = d.between(0, 4)
    if k == 0:
        return f"未来将重点拓展{kw}市场"
    if k == 1:
        return f"正在建设{p1}智能化生产基地"
    if k == 2:
        return "拟通过区域性股权市场引入战略投资者"
    if k == 3:
        return f"计划三年内实现营业收入{money(max(f.revenue, 5e6) * d.pick((2, 3, 5)))}"
    return "下一步将加快布局成渝地区双城经济圈市场"


def use_of_funds(d: Dice, instrument: str, industry_code: str) -> str:
    """What a financing need is for, in a short phrase."""
    prof = PROFILES[industry_code]
    kw = d.pick(_long_keywords(industry_code))
    p1, t1 = d.pick(prof.products), d.pick(prof.techs)
    if instrument == "old_shares":
        return d.pick(("早期股东部分退出，优化股权结构", "员工持股平台份额转让", "引入产业战略股东",
                       "天使投资人退出"))
    if instrument == "ipo_loan":
        return d.pick(("上市前规范运作及募投项目前期投入", "股改及上市辅导期间的流动资金需求"))
    if instrument in ("equity", "convertible"):
        options = (f"扩大{p1}产能", f"{t1}技术研发与产业化", f"建设{kw}研发中心",
                   "引进高端人才、补充流动资金", f"拓展{d.pick(FOREIGN_MARKETS)}市场", f"新建{p1}生产线")
    else:
        options = ("补充流动资金", "采购原材料", f"{p1}产线设备购置", "支付研发费用", "订单备货")
    chosen = d.sample(options, d.between(1, 2))
    return "、".join(chosen)
