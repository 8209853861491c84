"""The API's wording of the cross-field rules (:mod:`matching.domain.crossfield`, where they are decided):
each check asks the domain which rule a record's values break and answers the first as a 422 naming the
JSON field, in Chinese and English. The importer words the same rules for its reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.errors import ApiError
from api.services.checks import invalid
from matching.domain import crossfield, vocab
from matching.domain.crossfield import Rule


def check_investor(values: Mapping[str, Any]) -> None:
    """422 when a state fund lacks its ``state_fund_level``, or another investor has one."""
    _first(crossfield.investor(investor_type=values.get("investor_type"),
                               state_fund_level=values.get("state_fund_level")), values)


def check_enterprise(values: Mapping[str, Any]) -> None:
    """422 when an enterprise has neither ``credit_code`` nor ``external_id``."""
    _first(crossfield.enterprise(credit_code=values.get("credit_code"), external_id=values.get("external_id")),
           values)


def check_mandate(values: Mapping[str, Any]) -> None:
    """422 when ``ticket_min`` is above ``ticket_max``."""
    _first(crossfield.mandate(ticket_min=values.get("ticket_min"), ticket_max=values.get("ticket_max")), values)


def check_need(values: Mapping[str, Any]) -> None:
    """422 when ``closes_on`` is before ``opened_on``."""
    _first(crossfield.need(opened_on=values.get("opened_on"), closes_on=values.get("closes_on")), values)


def check_secondary(values: Mapping[str, Any]) -> None:
    """422 when old shares lack ``enterprise_id`` or a fund interest its ``fund_name``."""
    _first(crossfield.secondary(kind=values.get("kind"), has_enterprise=values.get("enterprise_id") is not None,
                                fund_name=values.get("fund_name")), values)


def _first(broken: list[Rule], values: Mapping[str, Any]) -> None:
    if broken:
        raise _error(broken[0], values)


def _error(rule: Rule, v: Mapping[str, Any]) -> ApiError:
    """The 422 for one broken rule, worded for API clients."""
    if rule is Rule.STATE_FUND_LEVEL_MISSING:
        return invalid("state_fund_level", None, "国有/政府引导基金须填写国资层级",
                       "state funds need state_fund_level", vocab.STATE_FUND_LEVELS.codes)
    if rule is Rule.STATE_FUND_LEVEL_MISPLACED:
        return invalid("state_fund_level", v["state_fund_level"], "只有国有/政府引导基金填写国资层级",
                       f"state_fund_level applies to investor_type state_fund only, not {v.get('investor_type')}")
    if rule is Rule.ENTERPRISE_IDENTITY:
        return invalid("credit_code", None, "需要统一社会信用代码或外部编号",
                       "Give credit_code (统一社会信用代码) or, for an enterprise without one, external_id")
    if rule is Rule.TICKET_RANGE:
        lo, hi = v["ticket_min"], v["ticket_max"]
        return invalid("ticket_min", lo, "单笔投资下限不能高于上限",
                       f"ticket_min {lo:,.0f} is above ticket_max {hi:,.0f}; the range must be min ≤ max")
    if rule is Rule.NEED_DATES:
        opened, closes = v["opened_on"], v["closes_on"]
        return invalid("closes_on", closes.isoformat(), "截止日期不能早于开始日期",
                       f"closes_on {closes} is before opened_on {opened}")
    if rule is Rule.OLD_SHARES_ENTERPRISE:
        return invalid("enterprise_id", None, "老股转让须填写标的企业", "old_shares listings need enterprise_id")
    assert rule is Rule.FUND_INTEREST_NAME, rule
    return invalid("fund_name", v.get("fund_name"), "基金份额转让须填写基金名称",
                   "fund_interest listings need fund_name")
