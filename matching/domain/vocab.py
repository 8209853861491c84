"""The market's controlled vocabulary, bilingual.

Every enumerated field of the data model (tiers, boards, qualifications, instruments, investor
types, …) is declared here once, with its stable English code, its Chinese label and its English
label. Parsing accepts any of the three (case-insensitive for English), so imports and the API take
"基础层", "basic" or "Basic tier" alike, and always store the code.

The database migrations copy these code lists into CHECK constraints; `tests/test_schema.py`
asserts the two stay in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from matching.errors import FieldError


@dataclass(frozen=True, slots=True)
class Term:
    """One value of a vocabulary: the stored code and its labels."""

    code: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()


class Vocabulary:
    """An ordered, immutable set of :class:`Term` with bilingual parsing.

    Args:
        name: the field this vocabulary describes (used in error messages).
        terms: the allowed values, in display order.
    """

    def __init__(self, name: str, terms: Iterable[Term]) -> None:
        self.name = name
        self.terms: tuple[Term, ...] = tuple(terms)
        self._codes = tuple(t.code for t in self.terms)
        self._by_code = {t.code: t for t in self.terms}
        self._by_key: dict[str, Term] = {}
        for term in self.terms:
            for key in (term.code, term.zh, term.en, *term.aliases):
                self._by_key[_key(key)] = term

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    @property
    def codes(self) -> tuple[str, ...]:
        """The stored codes, in display order."""
        return self._codes

    def get(self, code: str) -> Term:
        """Return the term with this exact code (raises ``KeyError`` otherwise)."""
        return self._by_code[code]

    def label(self, code: str, lang: str = "zh") -> str:
        """The human label of a code in ``zh`` or ``en``."""
        term = self.get(code)
        return term.zh if lang == "zh" else term.en

    def allowed(self) -> str:
        """The allowed values as one line, for error messages."""
        return ", ".join(f"{t.code} ({t.zh})" for t in self.terms)

    def parse(self, value: object, field: str | None = None) -> str:
        """Map a code, Chinese label or English label to the stored code.

        Raises:
            FieldError: naming the field, the value and the allowed values.
        """
        field = field or self.name
        if value is None or (isinstance(value, str) and not value.strip()):
            raise FieldError(field, value, f"a value is required; allowed: {self.allowed()}")
        term = self._by_key.get(_key(str(value)))
        if term is None:
            raise FieldError(field, value, f"unknown value; allowed: {self.allowed()}")
        return term.code

    def parse_many(self, values: object, field: str | None = None) -> list[str]:
        """Parse a list, or a string separated by ``,`` ``，`` ``;`` ``；`` ``、`` or ``|``.

        Duplicates are dropped, order kept. An empty input gives an empty list.
        """
        field = field or self.name
        if values is None:
            return []
        if isinstance(values, str):
            items = split_list(values)
        elif isinstance(values, (list, tuple, set)):
            items = [str(v).strip() for v in values if str(v).strip()]
        else:
            raise FieldError(field, values, "expected a list or a separated string")
        out: list[str] = []
        for item in items:
            code = self.parse(item, field)
            if code not in out:
                out.append(code)
        return out


def _key(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())


_SEPARATORS = str.maketrans({"，": ",", ";": ",", "；": ",", "、": ",", "|": ","})


def split_list(text: str) -> list[str]:
    """Split a list cell written by a person or exported by Excel."""
    return [p.strip() for p in text.translate(_SEPARATORS).split(",") if p.strip()]


def _v(name: str, *rows: tuple[str, ...]) -> Vocabulary:
    return Vocabulary(name, (Term(r[0], r[1], r[2], tuple(r[3:])) for r in rows))


TIERS = _v(
    "tier",
    ("basic", "基础层", "Basic tier"),
    ("growth", "成长层", "Growth tier"),
    ("select", "优选层", "Select tier"),
)

BOARDS = _v(
    "boards",
    ("sci_tech", "科技创新板", "Sci-tech innovation board"),
    ("srdi", "专精特新板", "Specialised & innovative (SRDI) board"),
    ("rural", "乡村振兴板", "Rural revitalisation board"),
    ("fund_incubation", "基金孵化板", "Fund incubation board"),
    ("liangjiang", "两江协同创新专板", "Liangjiang collaborative innovation board"),
)

QUALIFICATIONS = _v(
    "qualifications",
    ("srdi_municipal", "专精特新", "Municipal SRDI enterprise", "专精特新企业"),
    ("little_giant", '专精特新"小巨人"', "National SRDI 'little giant'", "小巨人", "专精特新小巨人"),
    ("high_tech", "高新技术企业", "High and new technology enterprise", "高新"),
    ("tech_sme", "科技型中小企业", "Technology-based SME"),
    ("above_scale", "规上企业", "Above designated size"),
    ("pe_vc_backed", "PE/VC投资企业", "PE/VC-backed", "pe/vc backed"),
    ("ipo_reserve", "拟上市企业后备库", "Pre-IPO reserve list", "拟上市后备"),
)

LISTING_TARGETS = _v(
    "listing_target",
    ("none", "暂无", "None"),
    ("star", "上交所科创板", "SSE STAR Market", "科创板"),
    ("sse_main", "上交所主板", "SSE Main Board"),
    ("szse_main", "深交所主板", "SZSE Main Board"),
    ("chinext", "深交所创业板", "SZSE ChiNext", "创业板"),
    ("bse", "北交所", "Beijing Stock Exchange"),
    ("neeq", "新三板", "NEEQ"),
)

INSTRUMENTS = _v(
    "instrument",
    ("equity", "股权融资", "Equity financing"),
    ("convertible", "科创可转债", "Sci-tech convertible bond"),
    ("ipo_loan", "上市贷", "Pre-IPO loan"),
    ("warrant_loan", "认股权", "Loan with warrants", "认股权贷款"),
    ("ip_pledge", "知识产权质押贷", "IP-pledge loan"),
    ("equity_pledge", "股权质押融资", "Equity-pledge loan"),
    ("old_shares", "老股转让", "Transfer of existing shares"),
)
#: Instruments that are debt (or debt-like): banks and guarantee companies only see these.
DEBT_INSTRUMENTS = frozenset({"convertible", "ipo_loan", "warrant_loan", "ip_pledge", "equity_pledge"})

ROUNDS = _v(
    "round",
    ("seed", "种子轮", "Seed"),
    ("angel", "天使轮", "Angel"),
    ("pre_a", "Pre-A轮", "Pre-A"),
    ("a", "A轮", "Series A", "series-a"),
    ("b", "B轮", "Series B", "series-b"),
    ("c", "C轮", "Series C", "series-c"),
    ("d_plus", "D轮及以后", "Series D and later", "series-d", "series-e", "series-f", "series-g"),
    ("pre_ipo", "Pre-IPO", "Pre-IPO round"),
    ("strategic", "战略投资", "Strategic"),
    ("debt", "债权融资", "Debt round", "debt_round"),
    ("other", "其他", "Other", "venture", "private-equity", "post-ipo", "crowd", "crowdfunding"),
)

INVESTOR_TYPES = _v(
    "investor_type",
    ("vc", "创业投资基金", "Venture capital fund", "VC", "创投"),
    ("pe", "私募股权基金", "Private equity fund", "PE"),
    ("s_fund", "S基金", "Secondary (S) fund", "二级份额转让基金"),
    ("state_fund", "国有/政府引导基金", "State-owned / guidance fund", "政府引导基金", "国有基金"),
    ("securities_arm", "券商另类/私募子公司", "Securities firm investment arm"),
    ("bank", "银行", "Bank"),
    ("guarantee", "担保/增信机构", "Guarantee company", "担保公司"),
    ("qfi", "境外合格投资者", "Qualified foreign investor", "QFLP"),
    ("corporate", "产业/企业投资者", "Corporate investor", "CVC"),
    ("lender", "租赁/保理/小贷公司", "Leasing, factoring or micro-loan company"),
)
#: Investor types that only take debt-type needs.
DEBT_ONLY_INVESTOR_TYPES = frozenset({"bank", "guarantee", "lender"})

STATE_FUND_LEVELS = _v(
    "state_fund_level",
    ("municipal", "市级", "Municipal"),
    ("district", "区县级", "District"),
)

INVESTOR_STATUSES = _v(
    "investor_status",
    ("fundraising", "募资期", "Fundraising"),
    ("investing", "投资期", "Investing"),
    ("managing", "管理期", "Managing"),
    ("exiting", "退出期", "Exiting"),
    ("inactive", "停止", "Inactive"),
)

ENTERPRISE_STATUSES = _v(
    "enterprise_status",
    ("active", "正常", "Active"),
    ("listed", "已上市", "Listed"),
    ("inactive", "停业/注销", "Inactive"),
)

REGION_SCOPES = _v(
    "regions",
    ("chongqing", "重庆市内", "Chongqing only", "重庆"),
    ("chengyu", "成渝地区", "Chengdu–Chongqing region", "成渝"),
    ("western", "西部地区", "Western China", "西部"),
    ("national", "全国", "National", "china"),
    ("overseas", "境外", "Overseas", "global"),
)

NEED_STATUSES = _v(
    "need_status",
    ("open", "进行中", "Open"),
    ("in_progress", "洽谈中", "In negotiation"),
    ("closed", "已完成", "Closed"),
    ("withdrawn", "已撤回", "Withdrawn"),
)

#: The need statuses that are live: matched, shown to investors, counted as the enterprise's open needs.
LIVE_NEED_STATUSES: tuple[str, ...] = ("open", "in_progress")

SECONDARY_KINDS = _v(
    "secondary_kind",
    ("fund_interest", "基金份额", "Fund LP interest"),
    ("old_shares", "老股", "Existing shares"),
)

SECONDARY_STATUSES = _v(
    "secondary_status",
    ("open", "挂牌中", "Open"),
    ("under_offer", "意向中", "Under offer"),
    ("sold", "已成交", "Sold"),
    ("withdrawn", "已撤牌", "Withdrawn"),
)

DISCLOSURE_LEVELS = _v(
    "disclosure",
    ("tier_default", "按层级披露", "As the tier requires"),
    ("public", "全部公开", "Public"),
    ("on_request", "申请后披露", "On accepted request only"),
)

EVENT_TYPES = _v(
    "event_type",
    ("viewed", "浏览", "Viewed"),
    ("saved", "收藏", "Saved"),
    ("dismissed", "不感兴趣", "Dismissed"),
    ("contact_requested", "请求联系", "Contact requested"),
    ("contact_accepted", "同意联系", "Contact accepted"),
    ("meeting", "会面", "Meeting"),
    ("due_diligence", "尽职调查", "Due diligence"),
    ("term_sheet", "投资意向书", "Term sheet"),
    ("invested", "已投资", "Invested"),
    ("declined", "已拒绝", "Declined"),
)

#: Graded relevance of each funnel event for the ranker (higher is a stronger positive).
EVENT_GRADES: dict[str, int] = {
    "dismissed": 0,
    "declined": 0,
    "viewed": 1,
    "saved": 2,
    "contact_requested": 3,
    "contact_accepted": 3,
    "meeting": 3,
    "due_diligence": 4,
    "term_sheet": 4,
    "invested": 5,
}

SIDES = _v(
    "side",
    ("investor", "投资方", "Investor"),
    ("enterprise", "企业", "Enterprise"),
)

ROLES = _v(
    "role",
    ("admin", "管理员", "Administrator"),
    ("operator", "运营人员", "Operator"),
    ("investor", "投资机构", "Investor"),
    ("enterprise", "企业", "Enterprise"),
    ("data_scientist", "数据科学家", "Data scientist"),
)

PROGRAMME_KINDS = _v(
    "programme_kind",
    ("subsidy", "奖补", "Subsidy or award", "奖励补助", "补贴"),
    ("interest_subsidy", "贴息", "Interest subsidy", "贷款贴息"),
    ("risk_compensation", "风险补偿", "Risk compensation", "风险补偿金"),
    ("guarantee", "担保增信", "Guarantee and credit enhancement", "政府性融资担保增信", "融资担保", "增信"),
    ("listing_reward", "挂牌奖励", "Listing reward", "挂牌奖补", "上市挂牌奖励"),
    ("other", "其他", "Other"),
)

CURRENCIES = _v(
    "currency",
    ("CNY", "人民币", "Chinese yuan", "RMB", "元"),
    ("USD", "美元", "US dollar"),
    ("HKD", "港元", "Hong Kong dollar"),
    ("EUR", "欧元", "Euro"),
)
