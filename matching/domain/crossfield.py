"""Rules that tie two fields of one record together, decided here once for every edge that accepts records.

The importer (:mod:`matching.ingest`) and the API (:mod:`api.services.resources`) both ask these functions
which rules a record breaks, and each words the answer for its audience: an import report names the
column and row, an API error the JSON field, in Chinese and English. Which combinations are refused is
stated only here.

A blank value is ``None`` or an empty string (an import's empty cell, an API field left out).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

__all__ = ["Rule", "enterprise", "investor", "mandate", "need", "secondary"]


class Rule(StrEnum):
    """A cross-field rule a record may break."""

    #: An investor of type ``state_fund`` needs its ``state_fund_level`` (市级 or 区县级).
    STATE_FUND_LEVEL_MISSING = "state_fund_level_missing"
    #: ``state_fund_level`` is for state funds only.
    STATE_FUND_LEVEL_MISPLACED = "state_fund_level_misplaced"
    #: An enterprise needs a unified social credit code or, without one, an ``external_id``.
    ENTERPRISE_IDENTITY = "enterprise_identity"
    #: A mandate's ``ticket_min`` may not exceed its ``ticket_max``.
    TICKET_RANGE = "ticket_range"
    #: A financing need's ``closes_on`` may not be before its ``opened_on``.
    NEED_DATES = "need_dates"
    #: An old-shares listing names the enterprise whose shares are sold.
    OLD_SHARES_ENTERPRISE = "old_shares_enterprise"
    #: A fund-interest listing names the fund.
    FUND_INTEREST_NAME = "fund_interest_name"


def investor(*, investor_type: str | None, state_fund_level: str | None) -> list[Rule]:
    """The rules an investor breaks: a state fund has a level, no other investor has one."""
    is_state = investor_type == "state_fund"
    if is_state and not state_fund_level:
        return [Rule.STATE_FUND_LEVEL_MISSING]
    if not is_state and state_fund_level:
        return [Rule.STATE_FUND_LEVEL_MISPLACED]
    return []


def enterprise(*, credit_code: str | None, external_id: str | None) -> list[Rule]:
    """The rules an enterprise breaks: it is identified by its credit code or, without one, an external id."""
    return [] if credit_code or external_id else [Rule.ENTERPRISE_IDENTITY]


def mandate(*, ticket_min: float | None, ticket_max: float | None) -> list[Rule]:
    """The rules a mandate breaks: its ticket range runs from low to high."""
    if ticket_min is not None and ticket_max is not None and ticket_min > ticket_max:
        return [Rule.TICKET_RANGE]
    return []


def need(*, opened_on: date | None, closes_on: date | None) -> list[Rule]:
    """The rules a financing need breaks: it closes on or after the day it opens."""
    if opened_on is not None and closes_on is not None and closes_on < opened_on:
        return [Rule.NEED_DATES]
    return []


def secondary(*, kind: str | None, has_enterprise: bool, fund_name: str | None) -> list[Rule]:
    """The rules a secondary listing breaks: old shares name their enterprise, a fund interest its fund."""
    if kind == "old_shares" and not has_enterprise:
        return [Rule.OLD_SHARES_ENTERPRISE]
    if kind == "fund_interest" and not fund_name:
        return [Rule.FUND_INTEREST_NAME]
    return []
