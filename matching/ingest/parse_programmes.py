"""Support programmes (扶持政策): one programme per row, its eligibility rules as columns.

Lists (districts, tiers, boards, qualifications, industries) are separated by ``、`` ``,`` ``;`` as
everywhere; an empty cell means "no rule". Amounts and revenue take ``50万``, ``1.2亿`` or a bare number
under a ``(万元)`` header. Ages are years since founding (``3`` or ``3年``). Every problem names the row,
the field, the value and what is allowed; the import is atomic (:mod:`store.importing`).
"""

from __future__ import annotations

import math
from typing import Any

from matching.domain.industries import parse_industry
from matching.domain.programme import Programme
from matching.domain.regions import parse_district
from matching.domain.vocab import BOARDS, PROGRAMME_KINDS, QUALIFICATIONS, TIERS
from matching.errors import FieldError
from matching.ingest.parse_cells import amount, each, integer, many_of, one_of, plain, text
from matching.ingest.parse_engine import Column, EntitySpec, ParseResult, TableLike, check, columns_table, parse_rows
from matching.ingest.parse_values import fold, parse_bool, parse_date, parse_text

MAX_AGE_YEARS = 200.0


def parse_years(value: object, field: str) -> float | None:
    """Years since founding: ``3``, ``2.5``, ``3年``.

    Raises:
        FieldError: not a number of years between 0 and 200.
    """
    if value is None or not str(value).strip():
        return None
    raw = fold(str(value)).rstrip("年").lower().removesuffix("years").removesuffix("year")
    try:
        years = float(raw)
    except ValueError:
        raise FieldError(field, value, "not a number of years; write e.g. 3 or 3年") from None
    if not math.isfinite(years) or not 0 <= years <= MAX_AGE_YEARS:
        raise FieldError(field, value, f"must be between 0 and {MAX_AGE_YEARS:g} years")
    return years


def parse_link(value: object, field: str) -> str | None:
    """A web address starting with ``http://`` or ``https://`` (at most 500 characters).

    Raises:
        FieldError: for anything else.
    """
    link = parse_text(value, field, max_len=500)
    if link is None:
        return None
    if not link.lower().startswith(("http://", "https://")) or any(c.isspace() for c in link):
        raise FieldError(field, value, "not a web address; write it in full, e.g. https://www.example.gov.cn/policy")
    return link


def _district(item: str, fld: str) -> str:
    code = parse_district(item, fld)
    if code is None:  # pragma: no cover - parse_district refuses empty items first
        raise FieldError(fld, item, "a Chongqing district name or code is required")
    return code


# fmt: off
C = Column
PROGRAMME_COLUMNS: tuple[Column, ...] = (
    C("ref", "ref", "政策编号", text(80), ("编号", "programme_ref"), required=True,
      doc="unique reference of the programme"),
    C("name", "name", "政策名称", text(200), ("名称", "项目名称"), required=True, doc="name of the programme"),
    C("issuer", "issuer", "发布单位", text(200), ("发布部门", "主管部门", "实施单位"), required=True,
      doc="who offers it (bureau, district, guarantee fund)"),
    C("kind", "kind", "政策类型", one_of(PROGRAMME_KINDS), ("类型", "支持方式"), required=True,
      doc="奖补, 贴息, 风险补偿, 担保增信, 挂牌奖励 or 其他"),
    C("districts", "districts", "适用区县", each(_district), ("区县", "注册地"),
      doc="Chongqing districts (any of); empty = any"),
    C("tiers", "tiers", "适用层级", many_of(TIERS), ("层级",), doc="基础层/成长层/优选层 (any of); empty = any"),
    C("boards", "boards", "适用板块", many_of(BOARDS), ("特色板块", "板块"),
      doc="special boards (any of); empty = any"),
    C("qualifications", "qualifications", "资质要求", many_of(QUALIFICATIONS), ("资质", "企业资质"),
      doc="专精特新, 高新技术企业, … (any of); empty = any"),
    C("industries", "industries", "适用行业", each(parse_industry), ("行业",),
      doc="industries of the 33618 taxonomy (any of); empty = any"),
    C("min_employees", "min_employees", "最少员工人数", integer(0), ("员工人数下限",), doc="headcount at least"),
    C("max_employees", "max_employees", "最多员工人数", integer(0), ("员工人数上限",), doc="headcount at most"),
    C("min_revenue", "min_revenue", "营业收入下限", amount(), ("最低营业收入",), doc="latest revenue at least, yuan"),
    C("max_revenue", "max_revenue", "营业收入上限", amount(), ("最高营业收入",), doc="latest revenue at most, yuan"),
    C("min_age_years", "min_age_years", "成立年限下限", plain(parse_years), ("最短成立年限", "成立满"),
      doc="years since founding, at least"),
    C("max_age_years", "max_age_years", "成立年限上限", plain(parse_years), ("最长成立年限",),
      doc="years since founding, at most"),
    C("max_amount", "max_amount", "单户最高金额", amount(), ("最高支持金额", "单户上限"),
      doc="the most one enterprise may receive, yuan (a (万元) header reads 50 as 50万)"),
    C("opens_on", "opens_on", "申报开始日期", plain(parse_date), ("开始日期",), doc="first day of applications"),
    C("closes_on", "closes_on", "申报截止日期", plain(parse_date), ("截止日期",),
      doc="last day of applications, not before opens_on"),
    C("link", "link", "政策链接", plain(parse_link), ("链接", "网址", "url"), doc="https://… address"),
    C("description", "description", "政策说明", text(5000), ("说明", "简介"), doc="free text"),
    C("is_sample", "is_sample", "示例数据", plain(parse_bool), ("样例",),
      doc="是 for demonstration data (shown as 示例 / sample, not real policy)"),
)
del C
# fmt: on

_BANDS = (("min_employees", "max_employees"), ("min_revenue", "max_revenue"), ("min_age_years", "max_age_years"),
          ("opens_on", "closes_on"))


def parse_programmes(table: TableLike) -> ParseResult[Programme]:
    """Validate programme rows (Chinese or English headers) into :class:`Programme` records; a ``ref``
    given twice is an error on the later row."""
    return parse_rows(table, EntitySpec("programmes", PROGRAMME_COLUMNS, _build, lambda p: (p.ref, "ref")))


def _build(values: dict[str, Any]) -> Programme:
    problems: list[FieldError] = []
    for low, high in _BANDS:
        lo, hi = values.get(low), values.get(high)
        if lo is not None and hi is not None and lo > hi:
            problems.append(FieldError(high, hi, f"must not be below {low} ({lo})"))
    check(problems)
    if values.get("is_sample") is None:
        values.pop("is_sample", None)
    return Programme(**values)


def programme_columns_doc() -> str:
    """The accepted columns as a Markdown table (for the README)."""
    return columns_table(PROGRAMME_COLUMNS)
