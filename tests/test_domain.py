"""Core validation: credit codes (GB 32100-2015), bilingual vocabularies, districts, industries."""

from __future__ import annotations

import pytest

from matching.domain import vocab
from matching.domain.credit_code import (
    check_character,
    is_valid_credit_code,
    make_credit_code,
    normalize_credit_code,
)
from matching.domain.industries import INDUSTRY_CODES, cluster_of, parse_industry
from matching.domain.regions import DISTRICTS, in_scope, parse_district
from matching.errors import FieldError


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110108551385082Q", "91440300708461136T"])
def test_known_valid_credit_codes(code: str) -> None:
    assert normalize_credit_code(code) == code
    assert check_character(code[:17]) == code[17]


def test_folding_of_spaces_case_and_full_width() -> None:
    assert normalize_credit_code(" 9111 0108-5513 8508 2q ") == "91110108551385082Q"
    assert normalize_credit_code("９１１１０１０８５５１３８５０８２Ｑ") == "91110108551385082Q"


@pytest.mark.parametrize(("value", "message"), [
    ("91110108551385082R",
     "credit_code: '91110108551385082R': check character is 'R' but should be 'Q' (GB 32100-2015)"),
    ("9111010855138508", "credit_code: '9111010855138508': must be 18 characters (GB 32100-2015), got 16"),
    ("91110108551385O82Q", "credit_code: '91110108551385O82Q': character 'O' is not allowed; use digits and capital "
                           "letters except I, O, Z, S, V"),
    (None, "credit_code: None: a unified social credit code (18 characters) is required"),
])
def test_invalid_credit_codes_say_why(value: object, message: str) -> None:
    with pytest.raises(FieldError) as info:
        normalize_credit_code(value)
    assert str(info.value) == message
    assert not is_valid_credit_code(value)


def test_made_codes_are_valid() -> None:
    assert is_valid_credit_code(make_credit_code("9", "1", "500103", "MA5U3Y6Q5"))


def test_vocabulary_accepts_chinese_english_and_codes() -> None:
    assert [vocab.TIERS.parse(v) for v in ("基础层", "basic", "Basic tier", " GROWTH ", "优选层")] == [
        "basic", "basic", "basic", "growth", "select"]
    assert vocab.BOARDS.parse_many("专精特新板、科技创新板，srdi") == ["srdi", "sci_tech"]
    assert vocab.INVESTOR_TYPES.parse("S基金") == "s_fund"
    with pytest.raises(FieldError) as info:
        vocab.TIERS.parse("金牌层", "层级")
    assert str(info.value) == ("层级: '金牌层': unknown value; allowed: basic (基础层), growth (成长层), "
                               "select (优选层)")


def test_every_vocabulary_round_trips_its_labels() -> None:
    for v in (vocab.TIERS, vocab.BOARDS, vocab.QUALIFICATIONS, vocab.INSTRUMENTS, vocab.ROUNDS,
              vocab.INVESTOR_TYPES, vocab.EVENT_TYPES, vocab.REGION_SCOPES):
        for term in v:
            assert v.parse(term.zh) == v.parse(term.en) == v.parse(term.code) == term.code
    assert set(vocab.EVENT_GRADES) == set(vocab.EVENT_TYPES.codes)


def test_districts() -> None:
    assert len(DISTRICTS) == 38 and sum(d.kind == "county" for d in DISTRICTS) == 12
    assert parse_district("渝中区") == parse_district("500103") == parse_district("重庆市渝中区") == "500103"
    assert parse_district("") is None
    with pytest.raises(FieldError, match="not one of Chongqing's 38 district-level units"):
        parse_district("朝阳区")
    assert in_scope("chongqing", district_code="500103", province="重庆", country="CN")
    assert in_scope("western", district_code=None, province="四川省", country="CN")
    assert not in_scope("western", district_code=None, province="广东", country="CN")
    assert not in_scope("national", district_code=None, province="CA", country="US")


def test_industries() -> None:
    assert parse_industry("生物医药") == parse_industry("biomedicine") == "biomedicine"
    assert cluster_of("nev_auto") == cluster_of("motorcycle") == "mobility"
    assert len(INDUSTRY_CODES) == len(set(INDUSTRY_CODES))
    with pytest.raises(FieldError, match="not in the industry taxonomy"):
        parse_industry("挖矿")
