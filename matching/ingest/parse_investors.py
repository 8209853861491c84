"""Investors and their mandates (one row per mandate version)."""

from __future__ import annotations

from typing import Any

from matching.domain import crossfield
from matching.domain.industries import parse_industry
from matching.domain.records import Investor, Mandate
from matching.domain.regions import parse_district
from matching.domain.vocab import (
    BOARDS,
    CURRENCIES,
    INSTRUMENTS,
    INVESTOR_STATUSES,
    INVESTOR_TYPES,
    REGION_SCOPES,
    ROUNDS,
    STATE_FUND_LEVELS,
    TIERS,
)
from matching.errors import FieldError
from matching.ingest.parse_cells import amount, each, integer, many_of, one_of, plain, ratio, text
from matching.ingest.parse_engine import Column, EntitySpec, ParseResult, TableLike, check, parse_rows
from matching.ingest.parse_values import (
    parse_amac_code,
    parse_country,
    parse_datetime,
    parse_enterprise_ref,
    parse_investor_ref,
    parse_source,
    parse_text,
)
from matching.ingest.reader import number_text


def _district(item: str, fld: str) -> str:
    code = parse_district(item, fld)
    assert code is not None  # items of a list are never empty
    return code


# fmt: off
C = Column
INVESTOR_COLUMNS: tuple[Column, ...] = (
    C("source", "source", "数据来源", plain(parse_source), ("来源",), doc="data source, default platform"),
    C("external_id", "external_id", "机构编号", text(200), ("外部编号", "编号"),
      doc="id in the source; defaults to the AMAC code"),
    C("name", "name", "机构名称", text(300), ("名称", "投资机构名称", "investor_name"), required=True,
      doc="institution name"),
    C("name_en", "name_en", "英文名称", text(300), doc="English name"),
    C("investor_type", "investor_type", "机构类型", one_of(INVESTOR_TYPES), ("类型", "type"), required=True,
      doc="创业投资基金, 私募股权基金, S基金, 国有/政府引导基金, 银行, …"),
    C("state_fund_level", "state_fund_level", "国资层级", one_of(STATE_FUND_LEVELS), ("国有基金层级",),
      doc="市级/区县级; required for state funds, only for them"),
    C("amac_code", "amac_code", "基金业协会编码", plain(parse_amac_code),
      ("AMAC编码", "备案编码", "登记编号", "基金业协会登记编号"),
      doc="P + 7 digits (manager) or S + 5 (fund); unique"),
    C("aum", "aum", "管理规模", amount(), ("资产管理规模",), doc="assets under management, yuan"),
    C("status", "status", "机构状态", one_of(INVESTOR_STATUSES), ("状态",),
      doc="募资期/投资期/管理期/退出期/停止"),
    C("district_code", "district", "所在区县", plain(parse_district), ("区县",),
      doc="Chongqing district, if any"),
    C("province", "province", "省份", text(60), ("省", "所在省份"), doc="province (default 重庆)"),
    C("country", "country", "国家", plain(parse_country), ("国家/地区",), doc="country code, default CN"),
    C("description", "description", "机构简介", text(20000), ("简介",), doc="free text"),
    C("created_at", "created_at", "创建时间", plain(parse_datetime), doc="when the profile was created"),
)

MANDATE_COLUMNS: tuple[Column, ...] = (
    C("investor_key", "investor", "机构编号", plain(parse_investor_ref),
      ("投资机构", "投资机构编号", "investor_key"),
      required=True, doc="the investor: source:external_id, or the external id of a platform investor"),
    C("version", "version", "版本", integer(1), doc="mandate version, default 1"),
    C("valid_from", "valid_from", "生效日期", plain(parse_datetime), ("生效时间",), doc="start of validity"),
    C("sectors", "sectors", "投资领域", each(parse_industry), ("投资行业", "关注行业"),
      doc="industries (codes or Chinese names); empty = any"),
    C("sectors_raw", "sectors_raw", "原始投资领域", each(lambda s, f: parse_text(s, f, max_len=200) or s),
      doc="sectors as a foreign source names them"),
    C("stages", "stages", "投资阶段", many_of(ROUNDS), ("投资轮次",),
      doc="rounds: 天使轮, A轮, …; empty = any"),
    C("ticket_min", "ticket_min", "单笔投资下限", amount(), ("单笔下限", "最低投资额"), doc="yuan"),
    C("ticket_max", "ticket_max", "单笔投资上限", amount(), ("单笔上限", "最高投资额"), doc="yuan"),
    C("currency", "currency", "币种", one_of(CURRENCIES), doc="default CNY"),
    C("regions", "regions", "地域", many_of(REGION_SCOPES), ("投资地域", "地域范围"),
      doc="重庆市内/成渝地区/西部地区/全国/境外; empty = national"),
    C("districts", "districts", "重点区县", each(_district), ("关注区县",),
      doc="preferred Chongqing districts"),
    C("tiers", "tiers", "层级偏好", many_of(TIERS), ("关注层级",), doc="tiers of interest; empty = any"),
    C("boards", "boards", "板块偏好", many_of(BOARDS), ("关注板块",), doc="boards of interest; empty = any"),
    C("instruments", "instruments", "融资工具", many_of(INSTRUMENTS), ("投资工具",),
      doc="empty = equity only"),
    C("excluded_sectors", "excluded_sectors", "排除行业", each(parse_industry), doc="industries never shown"),
    C("excluded_enterprises", "excluded_enterprises", "排除企业", each(parse_enterprise_ref),
      doc="credit codes or source:external_id"),
    C("local_reinvest_ratio", "local_reinvest_ratio", "返投比例", ratio(0.0, 10.0), ("返投要求",),
      doc="返投 requirement as a multiple of fund size: 1.5 or 150%"),
    C("thesis", "thesis", "投资理念", text(20000), ("投资策略", "投资偏好说明"), doc="free text"),
)
del C
# fmt: on


def parse_investors(table: TableLike) -> ParseResult[Investor]:
    """Validate investor rows into :class:`Investor` records (natural key ``source:external_id``)."""
    spec = EntitySpec(
        "investors",
        INVESTOR_COLUMNS,
        _build_investor,
        lambda i: (i.key, "external_id"),
        unique=(("amac_code", lambda i: i.amac_code),),
    )
    return parse_rows(table, spec)


def parse_mandates(table: TableLike) -> ParseResult[Mandate]:
    """Validate mandate rows into :class:`Mandate` records (natural key investor + version)."""
    spec = EntitySpec(
        "mandates", MANDATE_COLUMNS, _build_mandate, lambda m: ((m.investor_key, m.version), "version")
    )
    return parse_rows(table, spec)


def _build_investor(values: dict[str, Any]) -> Investor:
    problems: list[FieldError] = []
    if not values.get("external_id"):
        if values.get("amac_code"):
            values = {**values, "external_id": values["amac_code"]}
        else:
            problems.append(
                FieldError(
                    "external_id",
                    "",
                    "a value is required (the investor's id; or give amac_code, which then serves as the id)",
                )
            )
    for rule in crossfield.investor(
        investor_type=values.get("investor_type"), state_fund_level=values.get("state_fund_level")
    ):
        if rule is crossfield.Rule.STATE_FUND_LEVEL_MISSING:
            reason = "required for a state-owned / guidance fund: municipal (市级) or district (区县级)"
            problems.append(FieldError("state_fund_level", "", reason))
        else:  # a level on an investor that is no state fund
            reason = "only for investor_type state_fund (国有/政府引导基金); leave it empty"
            problems.append(FieldError("state_fund_level", values["state_fund_level"], reason))
    if values.get("district_code") and values.get("province") not in (None, "重庆", "重庆市"):
        problems.append(
            FieldError(
                "province", values["province"], "the district is in Chongqing: write 重庆 or leave it empty"
            )
        )
    check(problems)
    if values.get("country", "CN") != "CN" and not values.get("district_code"):
        values = {"province": None, **values}
    return Investor(**values)


def _build_mandate(values: dict[str, Any]) -> Mandate:
    low, high = values.get("ticket_min"), values.get("ticket_max")
    if crossfield.mandate(ticket_min=low, ticket_max=high):
        check([FieldError("ticket_max", high, f"must be ≥ ticket_min ({number_text(low)})")])
    return Mandate(**values)

