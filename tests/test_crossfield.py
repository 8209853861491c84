"""The cross-field rules (:mod:`matching.domain.crossfield`): known answers, and both edges (the importer
and the API's services) refusing exactly what the domain decides."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api.errors import ApiError
from api.services import crossfield as api_rules
from matching.domain import crossfield
from matching.domain.credit_code import make_credit_code
from matching.domain.crossfield import Rule
from matching.ingest.parse import parse_investors, parse_secondaries
from matching.ingest.reader import read_table


@pytest.mark.parametrize(("investor_type", "level", "broken"), [
    ("state_fund", "municipal", []), ("state_fund", None, [Rule.STATE_FUND_LEVEL_MISSING]),
    ("state_fund", "", [Rule.STATE_FUND_LEVEL_MISSING]), ("vc", "district", [Rule.STATE_FUND_LEVEL_MISPLACED]),
    ("vc", None, []), (None, None, [])])
def test_state_fund_level(investor_type: str | None, level: str | None, broken: list[Rule]) -> None:
    assert crossfield.investor(investor_type=investor_type, state_fund_level=level) == broken


def test_the_other_rules() -> None:
    assert crossfield.enterprise(credit_code=None, external_id=None) == [Rule.ENTERPRISE_IDENTITY]
    assert crossfield.enterprise(credit_code="", external_id="x1") == []
    assert crossfield.mandate(ticket_min=2e7, ticket_max=1e7) == [Rule.TICKET_RANGE]
    assert crossfield.mandate(ticket_min=1e7, ticket_max=1e7) == crossfield.mandate(ticket_min=None, ticket_max=1) == []
    assert crossfield.need(opened_on=date(2025, 3, 1), closes_on=date(2025, 1, 1)) == [Rule.NEED_DATES]
    assert crossfield.need(opened_on=date(2025, 3, 1), closes_on=date(2025, 3, 1)) == []
    assert crossfield.secondary(kind="old_shares", has_enterprise=False, fund_name="f") == [Rule.OLD_SHARES_ENTERPRISE]
    assert crossfield.secondary(kind="fund_interest", has_enterprise=True, fund_name="") == [Rule.FUND_INTEREST_NAME]
    assert crossfield.secondary(kind="old_shares", has_enterprise=True, fund_name=None) == []


def _api_refuses(check: Any, values: dict[str, Any]) -> str | None:
    """The field the API's 422 names, or ``None`` when it accepts."""
    try:
        check(values)
    except ApiError as err:
        assert err.status == 422
        return str(err.fields[0]["field"])
    return None


def _import_refuses(parse: Any, tmp_path: Path, csv: str) -> list[str]:
    """The fields the importer's problems name for one data row."""
    path = tmp_path / "rows.csv"
    path.write_text(csv, encoding="utf-8")
    return [e.field for e in parse(read_table(path)).errors]


@pytest.mark.parametrize(("kind", "enterprise", "fund_name"), [
    ("old_shares", None, None), ("old_shares", 7, None), ("fund_interest", None, None), ("fund_interest", None, "f")])
def test_both_edges_refuse_what_the_domain_decides_for_secondaries(kind: str, enterprise: int | None,
                                                                   fund_name: str | None, tmp_path: Path) -> None:
    broken = crossfield.secondary(kind=kind, has_enterprise=enterprise is not None, fund_name=fund_name)
    api = _api_refuses(api_rules.check_secondary, {"kind": kind, "enterprise_id": enterprise, "fund_name": fund_name})
    code = make_credit_code("9", "1", "500103", "MA5U7X8Y1") if enterprise else ""
    header = "ref,kind,seller_name,enterprise_key,fund_name,asking_price\n"
    row = f"S1,{kind},某卖方,{code},{fund_name or ''},100万\n"
    imported = _import_refuses(parse_secondaries, tmp_path, header + row)
    assert bool(api) == bool(imported) == bool(broken), (api, imported, broken)


@pytest.mark.parametrize(("investor_type", "level"), [
    ("state_fund", None), ("state_fund", "municipal"), ("vc", "district"), ("vc", None)])
def test_both_edges_refuse_what_the_domain_decides_for_investors(investor_type: str, level: str | None,
                                                                 tmp_path: Path) -> None:
    broken = crossfield.investor(investor_type=investor_type, state_fund_level=level)
    api = _api_refuses(api_rules.check_investor, {"investor_type": investor_type, "state_fund_level": level})
    imported = _import_refuses(parse_investors, tmp_path, "external_id,name,investor_type,state_fund_level\n"
                               f"I1,某基金,{investor_type},{level or ''}\n")
    expected = "state_fund_level" if broken else None
    assert api == expected and imported == ([expected] if broken else [])
