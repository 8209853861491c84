"""Validate tables into market records: one function per entity, every problem reported by row.

``parse_enterprises``, ``parse_investors``, ``parse_mandates``, ``parse_needs``,
``parse_secondaries`` and ``parse_events`` take a table from :func:`matching.ingest.reader.read_table`
and return a :class:`ParseResult`: the valid records (with their file rows), one :class:`RowError`
per problem (a row with three bad fields gets three), and the rejected rows.

Conventions for every entity:

- Headers in English or Chinese; case, spaces, ``_``/``-``, full-width characters and a trailing
  ``*`` do not matter. A unit in brackets applies to bare numbers: ``注册资本(万元)`` reads 5000 as
  5000万; ``研发投入占比(%)`` reads 8 as 8 %. Unknown columns are ignored (listed in
  ``ParseResult.ignored_columns``); a required column missing is one error on row 1.
- Enumerations take the code, the Chinese label or the English label (``基础层``, ``basic``).
  Lists are separated by ``,`` ``，`` ``;`` ``；`` ``、`` or ``|``.
- Amounts are stored in yuan: ``5000万``, ``1.2亿``, ``50,000,000``, ``5000 万元``; negative and
  above 1e13 are errors (net profit may be negative).
- Dates: ``2024-01-05``, ``2024/1/5``, ``2024年1月5日``, ``20240105``, ISO date-times; years
  1900–2099. Yes/no: 是/否, true/false, 1/0, Y/N. Ratios: ``8%`` or ``0.08``.
- References to other records use natural keys: an enterprise by credit code or
  ``source:external_id``, an investor by ``source:external_id`` (a bare id means ``platform:id``).
- A natural key given twice is an error on the later row ("duplicate of row N"), except enterprise
  rows of different financial years, which make one enterprise.

The accepted columns (generated from ``COLUMNS`` by :func:`columns_doc`; a test keeps this in step):

enterprises:

| field | English header | 中文表头 | also accepted | required | meaning |
|---|---|---|---|---|---|
| credit_code | credit_code | 统一社会信用代码 | 信用代码, 社会信用代码 |  | 18-character unified social credit code (GB 32100-2015); required unless external_id is given |
| source | source | 数据来源 | 来源 |  | data source, default platform |
| external_id | external_id | 外部编号 | 企业编号 |  | id in the source (for enterprises without a credit code) |
| name | name | 企业名称 | 名称, 公司名称, enterprise_name | yes | registered name |
| short_name | short_name | 企业简称 | 简称 |  | short name |
| name_en | name_en | 英文名称 |  |  | English name |
| district_code | district | 所属区县 | district_code, 区县, 所在区县 |  | Chongqing district: code (500103) or name (渝中区); empty outside Chongqing |
| province | province | 省份 | 省, 所在省份 |  | province (default 重庆) |
| country | country | 国家 | 国家/地区 |  | country code, default CN |
| city | city | 城市 |  |  | city |
| industry_code | industry | 所属行业 | industry_code, 行业 |  | industry of the 33618 taxonomy: code or Chinese name |
| industry_raw | industry_raw | 原始行业 |  |  | industry as the source gave it |
| tier | tier | 层级 | 所属层级, 挂牌层级 |  | 基础层/成长层/优选层 (default basic) |
| boards | boards | 特色板块 | 板块 |  | list of special boards |
| qualifications | qualifications | 资质 | 企业资质, 资质认定 |  | list: 专精特新, 专精特新"小巨人", 高新技术企业, … |
| listing_target | listing_target | 上市目标 | 拟上市板块 |  | 科创板, 创业板, 北交所, … (default none) |
| description | description | 企业简介 | 简介, 主营业务 |  | free-text profile |
| founded_on | founded_on | 成立日期 | 成立时间 |  | date of incorporation |
| registered_capital | registered_capital | 注册资本 |  |  | yuan; 5000万 or a (万元) header |
| disclosure | disclosure | 披露方式 |  |  | default tier_default |
| status | status | 企业状态 | 状态 |  | 正常/已上市/停业/注销 |
| excluded_investors | excluded_investors | 排除机构 | 不接受的机构 |  | investors this enterprise refuses: source:external_id or a platform investor's id |
| excluded_investor_types | excluded_investor_types | 排除机构类型 | 不接受的机构类型 |  | investor types it refuses, e.g. 境外合格投资者 |
| created_at | created_at | 创建时间 |  |  | when the profile was created |
| year | year | 年度 | 财务年度, 年份 |  | financial year of this row |
| revenue | revenue | 营业收入 | 营收 |  | yuan |
| net_profit | net_profit | 净利润 |  |  | yuan, may be negative |
| revenue_growth | revenue_growth | 营收增长率 | 营业收入增长率 |  | fraction or percent: 0.25 or 25% |
| rd_ratio | rd_ratio | 研发投入占比 | 研发占比, 研发投入强度 |  | R&D / revenue: 0.08 or 8% |
| employees | employees | 员工人数 | 职工人数, 从业人数 |  | headcount |
| patents | patents | 专利数 | 专利数量, 知识产权数 |  | patents held |

investors:

| field | English header | 中文表头 | also accepted | required | meaning |
|---|---|---|---|---|---|
| source | source | 数据来源 | 来源 |  | data source, default platform |
| external_id | external_id | 机构编号 | 外部编号, 编号 |  | id in the source; defaults to the AMAC code |
| name | name | 机构名称 | 名称, 投资机构名称, investor_name | yes | institution name |
| name_en | name_en | 英文名称 |  |  | English name |
| investor_type | investor_type | 机构类型 | 类型, type | yes | 创业投资基金, 私募股权基金, S基金, 国有/政府引导基金, 银行, … |
| state_fund_level | state_fund_level | 国资层级 | 国有基金层级 |  | 市级/区县级; required for state funds, only for them |
| amac_code | amac_code | 基金业协会编码 | AMAC编码, 备案编码, 登记编号, 基金业协会登记编号 |  | P + 7 digits (manager) or S + 5 (fund); unique |
| aum | aum | 管理规模 | 资产管理规模 |  | assets under management, yuan |
| status | status | 机构状态 | 状态 |  | 募资期/投资期/管理期/退出期/停止 |
| district_code | district | 所在区县 | district_code, 区县 |  | Chongqing district, if any |
| province | province | 省份 | 省, 所在省份 |  | province (default 重庆) |
| country | country | 国家 | 国家/地区 |  | country code, default CN |
| description | description | 机构简介 | 简介 |  | free text |
| created_at | created_at | 创建时间 |  |  | when the profile was created |

mandates:

| field | English header | 中文表头 | also accepted | required | meaning |
|---|---|---|---|---|---|
| investor_key | investor | 机构编号 | investor_key, 投资机构, 投资机构编号 | yes | the investor: source:external_id, or the external id of a platform investor |
| version | version | 版本 |  |  | mandate version, default 1 |
| valid_from | valid_from | 生效日期 | 生效时间 |  | start of validity |
| sectors | sectors | 投资领域 | 投资行业, 关注行业 |  | industries (codes or Chinese names); empty = any |
| sectors_raw | sectors_raw | 原始投资领域 |  |  | sectors as a foreign source names them |
| stages | stages | 投资阶段 | 投资轮次 |  | rounds: 天使轮, A轮, …; empty = any |
| ticket_min | ticket_min | 单笔投资下限 | 单笔下限, 最低投资额 |  | yuan |
| ticket_max | ticket_max | 单笔投资上限 | 单笔上限, 最高投资额 |  | yuan |
| currency | currency | 币种 |  |  | default CNY |
| regions | regions | 地域 | 投资地域, 地域范围 |  | 重庆市内/成渝地区/西部地区/全国/境外; empty = national |
| districts | districts | 重点区县 | 关注区县 |  | preferred Chongqing districts |
| tiers | tiers | 层级偏好 | 关注层级 |  | tiers of interest; empty = any |
| boards | boards | 板块偏好 | 关注板块 |  | boards of interest; empty = any |
| instruments | instruments | 融资工具 | 投资工具 |  | empty = equity only |
| excluded_sectors | excluded_sectors | 排除行业 |  |  | industries never shown |
| excluded_enterprises | excluded_enterprises | 排除企业 |  |  | credit codes or source:external_id |
| local_reinvest_ratio | local_reinvest_ratio | 返投比例 | 返投要求 |  | 返投 requirement as a multiple of fund size: 1.5 or 150% |
| thesis | thesis | 投资理念 | 投资策略, 投资偏好说明 |  | free text |

needs:

| field | English header | 中文表头 | also accepted | required | meaning |
|---|---|---|---|---|---|
| ref | ref | 需求编号 | 编号 | yes | unique reference of the need |
| enterprise_key | enterprise | 企业 | enterprise_key, 统一社会信用代码, 企业统一社会信用代码, 企业编号 | yes | credit code or source:external_id |
| instrument | instrument | 融资工具 | 融资方式 | yes | 股权融资, 科创可转债, 上市贷, 认股权, 知识产权质押贷, 股权质押融资, 老股转让 |
| amount | amount | 融资金额 | 金额, 拟融资金额 | yes | yuan: 5000万, 1.2亿 |
| currency | currency | 币种 |  |  | default CNY |
| round | round | 轮次 | 融资轮次 |  | 天使轮, A轮, … |
| status | status | 需求状态 | 状态 |  | 进行中/洽谈中/已完成/已撤回 |
| opened_on | opened_on | 开始日期 | 发布日期 |  | date |
| closes_on | closes_on | 截止日期 | 结束日期 |  | date, not before opened_on |
| use_of_funds | use_of_funds | 资金用途 | 募资用途 |  | free text |

secondaries:

| field | English header | 中文表头 | also accepted | required | meaning |
|---|---|---|---|---|---|
| ref | ref | 挂牌编号 | 编号 | yes | unique reference of the listing |
| kind | kind | 标的类型 | 类型 | yes | 基金份额 or 老股 |
| seller_name | seller_name | 出让方 | 出让方名称, 转让方 | yes | seller |
| seller_investor_key | seller_investor | 出让方机构编号 | seller_investor_key |  | the seller if it is an investor on the platform |
| enterprise_key | enterprise | 标的企业 | enterprise_key, 企业 |  | underlying enterprise (required for 老股) |
| fund_name | fund_name | 基金名称 | 标的基金 |  | underlying fund (required for 基金份额) |
| asking_price | asking_price | 挂牌价格 | 转让价格, 报价 | yes | yuan |
| nav | nav | 资产净值 | 净值 |  | yuan, > 0 |
| currency | currency | 币种 |  |  | default CNY |
| vintage | vintage | 设立年份 | 成立年份 |  | fund vintage year |
| status | status | 挂牌状态 | 状态 |  | 挂牌中/意向中/已成交/已撤牌 |
| listed_on | listed_on | 挂牌日期 |  |  | date |
| description | description | 说明 | 描述, 简介 |  | free text |

events:

| field | English header | 中文表头 | also accepted | required | meaning |
|---|---|---|---|---|---|
| event_key | event_key | 事件编号 |  |  | unique key; derived from the row when empty |
| investor_key | investor | 投资方 | investor_key, 机构编号 | yes | source:external_id or a platform investor's id |
| enterprise_key | enterprise | 企业 | enterprise_key, 统一社会信用代码, 企业编号 | yes | credit code or source:external_id |
| event_type | event_type | 事件类型 | 类型 | yes | 浏览, 收藏, 请求联系, 会面, 尽职调查, 投资意向书, 已投资, 已拒绝, … |
| actor | actor | 发起方 |  |  | 投资方 or 企业 (default investor) |
| occurred_at | occurred_at | 时间 | 发生时间, 日期 | yes | date or date-time |
| need_ref | need_ref | 需求编号 |  |  | the financing need, if any |
| secondary_ref | secondary_ref | 挂牌编号 |  |  | the secondary listing, if any |
| source | source | 数据来源 | 来源 |  | default platform |
| list_id | list_id | 推荐列表编号 |  |  | the served list the event came from (UUID) |
| amount | amount | 金额 | 投资金额 |  | yuan |
| currency | currency | 币种 |  |  | currency of amount |
| round | round | 轮次 |  |  | round |
| lead | lead | 是否领投 | 领投 |  | 是/否 |
"""

# ruff: noqa: E501  (the generated column tables above)

from __future__ import annotations

from matching.ingest.parse_deals import (
    EVENT_COLUMNS,
    NEED_COLUMNS,
    SECONDARY_COLUMNS,
    event_key,
    parse_events,
    parse_needs,
    parse_secondaries,
)
from matching.ingest.parse_engine import Column, ParseResult, RowError, columns_table
from matching.ingest.parse_enterprises import ENTERPRISE_COLUMNS, parse_enterprises
from matching.ingest.parse_investors import INVESTOR_COLUMNS, MANDATE_COLUMNS, parse_investors, parse_mandates
from matching.ingest.parse_values import parse_amount, parse_bool, parse_date, parse_datetime, parse_int, parse_ratio

#: Accepted columns per entity, in export order (English header, Chinese header, aliases, parser).
COLUMNS: dict[str, tuple[Column, ...]] = {
    "enterprises": ENTERPRISE_COLUMNS,
    "investors": INVESTOR_COLUMNS,
    "mandates": MANDATE_COLUMNS,
    "needs": NEED_COLUMNS,
    "secondaries": SECONDARY_COLUMNS,
    "events": EVENT_COLUMNS,
}

PARSERS = {
    "enterprises": parse_enterprises,
    "investors": parse_investors,
    "mandates": parse_mandates,
    "needs": parse_needs,
    "secondaries": parse_secondaries,
    "events": parse_events,
}


def headers(entity: str, lang: str = "en") -> list[str]:
    """The export / template headers of an entity, English (``en``) or Chinese (``zh``)."""
    return [c.header if lang == "en" else c.zh for c in COLUMNS[entity]]


def columns_doc() -> str:
    """Markdown tables of every entity's accepted columns."""
    return "\n\n".join(f"{entity}:\n\n{columns_table(cols)}" for entity, cols in COLUMNS.items())


__all__ = [
    "COLUMNS",
    "PARSERS",
    "Column",
    "ParseResult",
    "RowError",
    "columns_doc",
    "event_key",
    "headers",
    "parse_amount",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_enterprises",
    "parse_events",
    "parse_int",
    "parse_investors",
    "parse_mandates",
    "parse_needs",
    "parse_ratio",
    "parse_secondaries",
]
