"""Financing needs, secondary listings and funnel events."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from matching.domain import crossfield
from matching.domain.records import Event, Need, Secondary
from matching.domain.vocab import (
    CURRENCIES,
    EVENT_TYPES,
    INSTRUMENTS,
    NEED_STATUSES,
    ROUNDS,
    SECONDARY_KINDS,
    SECONDARY_STATUSES,
    SIDES,
)
from matching.errors import FieldError
from matching.ingest.parse_cells import amount, integer, one_of, plain, text
from matching.ingest.parse_engine import Column, EntitySpec, ParseResult, TableLike, check, parse_rows
from matching.ingest.parse_values import (
    parse_bool,
    parse_date,
    parse_datetime,
    parse_enterprise_ref,
    parse_investor_ref,
    parse_source,
)


def _uuid(value: str, fld: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise FieldError(fld, value, "must be the id of a served list (a UUID)") from None


# fmt: off
C = Column
NEED_COLUMNS: tuple[Column, ...] = (
    C("ref", "ref", "需求编号", text(100), ("编号",), required=True, doc="unique reference of the need"),
    C("enterprise_key", "enterprise", "企业", plain(parse_enterprise_ref),
      ("enterprise_key", "统一社会信用代码", "企业统一社会信用代码", "企业编号"), required=True,
      doc="credit code or source:external_id"),
    C("instrument", "instrument", "融资工具", one_of(INSTRUMENTS), ("融资方式",), required=True,
      doc="股权融资, 科创可转债, 上市贷, 认股权, 知识产权质押贷, 股权质押融资, 老股转让"),
    C("amount", "amount", "融资金额", amount(), ("金额", "拟融资金额"), required=True,
      doc="yuan: 5000万, 1.2亿"),
    C("currency", "currency", "币种", one_of(CURRENCIES), doc="default CNY"),
    C("round", "round", "轮次", one_of(ROUNDS), ("融资轮次",), doc="天使轮, A轮, …"),
    C("status", "status", "需求状态", one_of(NEED_STATUSES), ("状态",), doc="进行中/洽谈中/已完成/已撤回"),
    C("opened_on", "opened_on", "开始日期", plain(parse_date), ("发布日期",), doc="date"),
    C("closes_on", "closes_on", "截止日期", plain(parse_date), ("结束日期",),
      doc="date, not before opened_on"),
    C("use_of_funds", "use_of_funds", "资金用途", text(5000), ("募资用途",), doc="free text"),
)

SECONDARY_COLUMNS: tuple[Column, ...] = (
    C("ref", "ref", "挂牌编号", text(100), ("编号",), required=True, doc="unique reference of the listing"),
    C("kind", "kind", "标的类型", one_of(SECONDARY_KINDS), ("类型",), required=True, doc="基金份额 or 老股"),
    C("seller_name", "seller_name", "出让方", text(300), ("出让方名称", "转让方"), required=True,
      doc="seller"),
    C("seller_investor_key", "seller_investor", "出让方机构编号", plain(parse_investor_ref),
      ("seller_investor_key",), doc="the seller if it is an investor on the platform"),
    C("enterprise_key", "enterprise", "标的企业", plain(parse_enterprise_ref), ("enterprise_key", "企业"),
      doc="underlying enterprise (required for 老股)"),
    C("fund_name", "fund_name", "基金名称", text(300), ("标的基金",),
      doc="underlying fund (required for 基金份额)"),
    C("asking_price", "asking_price", "挂牌价格", amount(), ("转让价格", "报价"), required=True, doc="yuan"),
    C("nav", "nav", "资产净值", amount(), ("净值",), doc="yuan, > 0"),
    C("currency", "currency", "币种", one_of(CURRENCIES), doc="default CNY"),
    C("vintage", "vintage", "设立年份", integer(1990, 2100), ("成立年份",), doc="fund vintage year"),
    C("status", "status", "挂牌状态", one_of(SECONDARY_STATUSES), ("状态",),
      doc="挂牌中/意向中/已成交/已撤牌"),
    C("listed_on", "listed_on", "挂牌日期", plain(parse_date), doc="date"),
    C("description", "description", "说明", text(5000), ("描述", "简介"), doc="free text"),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    C("event_key", "event_key", "事件编号", text(200), doc="unique key; derived from the row when empty"),
    C("investor_key", "investor", "投资方", plain(parse_investor_ref),
      ("investor_key", "机构编号"), required=True,
      doc="source:external_id or a platform investor's id"),
    C("enterprise_key", "enterprise", "企业", plain(parse_enterprise_ref),
      ("enterprise_key", "统一社会信用代码", "企业编号"), required=True,
      doc="credit code or source:external_id"),
    C("event_type", "event_type", "事件类型", one_of(EVENT_TYPES), ("类型",), required=True,
      doc="浏览, 收藏, 请求联系, 会面, 尽职调查, 投资意向书, 已投资, 已拒绝, …"),
    C("actor", "actor", "发起方", one_of(SIDES), doc="投资方 or 企业 (default investor)"),
    C("occurred_at", "occurred_at", "时间", plain(parse_datetime), ("发生时间", "日期"), required=True,
      doc="date or date-time"),
    C("need_ref", "need_ref", "需求编号", text(100), doc="the financing need, if any"),
    C("secondary_ref", "secondary_ref", "挂牌编号", text(100), doc="the secondary listing, if any"),
    C("source", "source", "数据来源", plain(parse_source), ("来源",), doc="default platform"),
    C("list_id", "list_id", "推荐列表编号", plain(_uuid), doc="the served list the event came from (UUID)"),
    C("amount", "amount", "金额", amount(), ("投资金额",), doc="yuan"),
    C("currency", "currency", "币种", one_of(CURRENCIES), doc="currency of amount"),
    C("round", "round", "轮次", one_of(ROUNDS), doc="round"),
    C("lead", "lead", "是否领投", plain(parse_bool), ("领投",), doc="是/否"),
)
del C
# fmt: on


def parse_needs(table: TableLike) -> ParseResult[Need]:
    """Validate financing-need rows into :class:`Need` records (natural key ``ref``)."""
    return parse_rows(table, EntitySpec("needs", NEED_COLUMNS, _build_need, lambda n: (n.ref, "ref")))


def parse_secondaries(table: TableLike) -> ParseResult[Secondary]:
    """Validate secondary-listing rows into :class:`Secondary` records (natural key ``ref``)."""
    return parse_rows(
        table, EntitySpec("secondaries", SECONDARY_COLUMNS, _build_secondary, lambda s: (s.ref, "ref"))
    )


def parse_events(table: TableLike) -> ParseResult[Event]:
    """Validate funnel-event rows into :class:`Event` records (natural key ``event_key``)."""
    return parse_rows(
        table, EntitySpec("events", EVENT_COLUMNS, _build_event, lambda e: (e.event_key, "event_key"))
    )


def _build_need(values: dict[str, Any]) -> Need:
    opened, closes = values.get("opened_on"), values.get("closes_on")
    if crossfield.need(opened_on=opened, closes_on=closes):
        check([FieldError("closes_on", closes, f"must not be before opened_on ({opened})")])
    return Need(**values)


def _build_secondary(values: dict[str, Any]) -> Secondary:
    problems: list[FieldError] = []
    for rule in crossfield.secondary(
        kind=values.get("kind"), has_enterprise=bool(values.get("enterprise_key")), fund_name=values.get("fund_name")
    ):
        if rule is crossfield.Rule.OLD_SHARES_ENTERPRISE:
            reason = "required for old shares (老股): the enterprise whose shares are sold"
            problems.append(FieldError("enterprise_key", "", reason))
        else:  # a fund interest without its fund
            problems.append(FieldError("fund_name", "", "required for a fund interest (基金份额): the fund's name"))
    if values.get("nav") == 0:
        problems.append(FieldError("nav", 0, "must be > 0 (leave it empty when unknown)"))
    check(problems)
    return Secondary(**values)


def _build_event(values: dict[str, Any]) -> Event:
    if not values.get("event_key"):
        values = {
            **values,
            "event_key": event_key(
                values.get("source", "platform"),
                values["investor_key"],
                values["enterprise_key"],
                values["event_type"],
                values["occurred_at"].isoformat(),
                values.get("need_ref") or "",
                values.get("secondary_ref") or "",
            ),
        }
    return Event(**values)


def event_key(source: str, *parts: str) -> str:
    """A deterministic event key ``source:<24 hex>`` from the event's identifying parts, so that
    importing the same event twice gives the same key (and the store keeps one)."""
    digest = hashlib.sha1("\x1f".join((source, *parts)).encode("utf-8")).hexdigest()[:24]
    return f"{source}:{digest}"
