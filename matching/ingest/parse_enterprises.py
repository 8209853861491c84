"""Enterprises: profile columns plus, optionally, one financial year per row.

An enterprise with several years of financials takes one row per year; the profile is given on the
first row and may be repeated (or left blank) on the others, but must not contradict it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from matching.domain import crossfield
from matching.domain.credit_code import normalize_credit_code
from matching.domain.industries import parse_industry
from matching.domain.records import Enterprise, Financials
from matching.domain.regions import parse_district
from matching.domain.vocab import (
    BOARDS,
    DISCLOSURE_LEVELS,
    ENTERPRISE_STATUSES,
    INVESTOR_TYPES,
    LISTING_TARGETS,
    QUALIFICATIONS,
    TIERS,
)
from matching.errors import FieldError
from matching.ingest.parse_cells import amount, each, integer, many_of, one_of, plain, ratio, text
from matching.ingest.parse_engine import Column, EntitySpec, ParseResult, TableLike, check, parse_rows
from matching.ingest.parse_values import parse_country, parse_date, parse_datetime, parse_investor_ref, parse_source

# fmt: off
C = Column
ENTERPRISE_COLUMNS: tuple[Column, ...] = (
    C("credit_code", "credit_code", "统一社会信用代码", plain(normalize_credit_code, unique=True),
      ("信用代码", "社会信用代码"),
      doc="18-character unified social credit code (GB 32100-2015); required unless external_id is given"),
    C("source", "source", "数据来源", plain(parse_source), ("来源",), doc="data source, default platform"),
    C("external_id", "external_id", "外部编号", text(200), ("企业编号",),
      doc="id in the source (for enterprises without a credit code)"),
    C("name", "name", "企业名称", text(200), ("名称", "公司名称", "enterprise_name"), required=True,
      doc="registered name"),
    C("short_name", "short_name", "企业简称", text(60), ("简称",), doc="short name"),
    C("name_en", "name_en", "英文名称", text(300), doc="English name"),
    C("district_code", "district", "所属区县", plain(parse_district), ("区县", "所在区县"),
      doc="Chongqing district: code (500103) or name (渝中区); empty outside Chongqing"),
    C("province", "province", "省份", text(60), ("省", "所在省份"), doc="province (default 重庆)"),
    C("country", "country", "国家", plain(parse_country), ("国家/地区",), doc="country code, default CN"),
    C("city", "city", "城市", text(100), doc="city"),
    C("industry_code", "industry", "所属行业", plain(parse_industry), ("行业", "industry_code"),
      doc="industry of the 33618 taxonomy: code or Chinese name"),
    C("industry_raw", "industry_raw", "原始行业", text(200), doc="industry as the source gave it"),
    C("tier", "tier", "层级", one_of(TIERS), ("所属层级", "挂牌层级"),
      doc="基础层/成长层/优选层 (default basic)"),
    C("boards", "boards", "特色板块", many_of(BOARDS), ("板块",), doc="list of special boards"),
    C("qualifications", "qualifications", "资质", many_of(QUALIFICATIONS), ("企业资质", "资质认定"),
      doc="list: 专精特新, 专精特新\"小巨人\", 高新技术企业, …"),
    C("listing_target", "listing_target", "上市目标", one_of(LISTING_TARGETS), ("拟上市板块",),
      doc="科创板, 创业板, 北交所, … (default none)"),
    C("description", "description", "企业简介", text(20000), ("简介", "主营业务"), doc="free-text profile"),
    C("founded_on", "founded_on", "成立日期", plain(parse_date), ("成立时间",), doc="date of incorporation"),
    C("registered_capital", "registered_capital", "注册资本", amount(),
      doc="yuan; 5000万 or a (万元) header"),
    C("disclosure", "disclosure", "披露方式", one_of(DISCLOSURE_LEVELS), doc="default tier_default"),
    C("status", "status", "企业状态", one_of(ENTERPRISE_STATUSES), ("状态",), doc="正常/已上市/停业/注销"),
    C("excluded_investors", "excluded_investors", "排除机构", each(parse_investor_ref), ("不接受的机构",),
      doc="investors this enterprise refuses: source:external_id or a platform investor's id"),
    C("excluded_investor_types", "excluded_investor_types", "排除机构类型", many_of(INVESTOR_TYPES),
      ("不接受的机构类型",), doc="investor types it refuses, e.g. 境外合格投资者"),
    C("created_at", "created_at", "创建时间", plain(parse_datetime), doc="when the profile was created"),
    C("year", "year", "年度", integer(1900, 2100), ("财务年度", "年份"), doc="financial year of this row"),
    C("revenue", "revenue", "营业收入", amount(), ("营收",), doc="yuan"),
    C("net_profit", "net_profit", "净利润", amount(allow_negative=True), doc="yuan, may be negative"),
    C("revenue_growth", "revenue_growth", "营收增长率", ratio(-1.0, 1000.0), ("营业收入增长率",),
      doc="fraction or percent: 0.25 or 25%"),
    C("rd_ratio", "rd_ratio", "研发投入占比", ratio(0.0, 10.0), ("研发占比", "研发投入强度"),
      doc="R&D / revenue: 0.08 or 8%"),
    C("employees", "employees", "员工人数", integer(0), ("职工人数", "从业人数"), doc="headcount"),
    C("patents", "patents", "专利数", integer(0), ("专利数量", "知识产权数"), doc="patents held"),
)
del C
# fmt: on

_FINANCIAL_FIELDS = frozenset({"year", "revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents"})


def parse_enterprises(table: TableLike) -> ParseResult[Enterprise]:
    """Validate enterprise rows (Chinese or English headers) into :class:`Enterprise` records.

    Rows with the same credit code (or source + external id) are one enterprise with several
    financial years; the same year twice, or a contradicting profile, is an error on the later row.
    """
    year_rows: dict[tuple[Hashable, int], int] = {}

    def merge(
        first: Enterprise, new: Enterprise, values: dict[str, Any], first_row: int, row: int
    ) -> str | None:
        if not new.financials:
            return f"duplicate of row {first_row}"
        for name in values:
            if name not in _FINANCIAL_FIELDS and getattr(first, name) != getattr(new, name):
                return (
                    f"same enterprise as row {first_row} but {name} differs ('{getattr(first, name)}'); "
                    "give the profile once and one row per financial year"
                )
        year = new.financials[0].year
        if any(f.year == year for f in first.financials):
            return f"duplicate of row {year_rows.get((first.key, year), first_row)} (same year {year})"
        year_rows[(first.key, year)] = row
        first.financials.append(new.financials[0])
        return None

    spec = EntitySpec("enterprises", ENTERPRISE_COLUMNS, _build, lambda e: (e.key, _key_field(e)), merge)
    return parse_rows(table, spec)


def _key_field(e: Enterprise) -> str:
    return "credit_code" if e.credit_code else "external_id"


def _build(values: dict[str, Any]) -> Enterprise:
    problems: list[FieldError] = []
    profile = {k: v for k, v in values.items() if k not in _FINANCIAL_FIELDS}
    figures = {k: v for k, v in values.items() if k in _FINANCIAL_FIELDS and k != "year"}
    year = values.get("year")
    if figures and year is None:
        problems.append(
            FieldError("year", "", "a value is required when financial figures (revenue, …) are given")
        )
    if crossfield.enterprise(credit_code=profile.get("credit_code"), external_id=profile.get("external_id")):
        problems.append(
            FieldError(
                "credit_code",
                "",
                "a unified social credit code (18 characters) is required; "
                "for an enterprise without one give source and external_id",
            )
        )
    if profile.get("district_code"):
        province = profile.get("province")
        if province not in (None, "重庆", "重庆市"):
            problems.append(
                FieldError("province", province, "the district is in Chongqing: write 重庆 or leave it empty")
            )
        if profile.get("country", "CN") != "CN":
            problems.append(
                FieldError(
                    "country", profile["country"], "the district is in Chongqing: write CN or leave it empty"
                )
            )
    check(problems)
    if profile.get("district_code"):
        profile.setdefault("province", "重庆")
    elif profile.get("country", "CN") != "CN":
        profile.setdefault("province", None)  # the record's default (重庆) is for domestic enterprises
    financials = [Financials(year, **figures)] if year is not None else []
    return Enterprise(**profile, financials=financials)
