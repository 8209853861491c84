"""Field types of the resource schemas: enumerations that take codes or labels, districts, industries,
amounts (``5000万``), credit codes and AMAC codes.

Each enumeration is a ``StrEnum`` of the vocabulary's codes (so the OpenAPI docs list them and a bad
value is a 422 listing the allowed codes) behind a before-validator that maps a Chinese or English
label to its code (``成长层`` → ``growth``).

Enumerated fields take the code or the Chinese or English label (``"tier": "成长层"``, ``"boards":
"科技创新板，专精特新板"``) and are stored and returned as codes, with Chinese labels beside them in
responses. A value that is none of them is a 422 listing the allowed codes. Amounts are yuan and also
take ``"5000万"`` or ``"1.2亿"``; districts take the code or the name (``渝北区``); industries the
code or the Chinese name; unified social credit codes are checked (GB 32100-2015).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from matching.domain import industries, regions, vocab
from matching.domain.credit_code import normalize_credit_code
from matching.errors import FieldError
from matching.ingest.parse_values import parse_amac_code, parse_amount


def _codes(name: str, codes: tuple[str, ...]) -> type[StrEnum]:
    return StrEnum(name, {c: c for c in codes})  # type: ignore[return-value]


def _to_code(parse: Any) -> BeforeValidator:
    """Map a label to its code before the enum check; an unknown value is left for the enum to refuse,
    whose error lists the allowed codes."""

    def before(value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                return parse(value)
            except FieldError:
                return value
        return value

    return BeforeValidator(before)


def _split(value: Any) -> Any:
    return vocab.split_list(value) if isinstance(value, str) else value


def _amount(allow_negative: bool = False) -> BeforeValidator:
    def before(value: Any) -> Any:
        if isinstance(value, str):
            return parse_amount(value, "amount", allow_negative=allow_negative)
        return value

    return BeforeValidator(before)


def _credit_code(value: Any) -> Any:
    return normalize_credit_code(value) if value is not None else None


def _amac(value: Any) -> Any:
    return parse_amac_code(value) if value is not None else None


TierCode = _codes("Tier", vocab.TIERS.codes)
BoardCode = _codes("Board", vocab.BOARDS.codes)
QualificationCode = _codes("Qualification", vocab.QUALIFICATIONS.codes)
ListingTargetCode = _codes("ListingTarget", vocab.LISTING_TARGETS.codes)
InstrumentCode = _codes("Instrument", vocab.INSTRUMENTS.codes)
RoundCode = _codes("Round", vocab.ROUNDS.codes)
InvestorTypeCode = _codes("InvestorType", vocab.INVESTOR_TYPES.codes)
StateFundLevelCode = _codes("StateFundLevel", vocab.STATE_FUND_LEVELS.codes)
InvestorStatusCode = _codes("InvestorStatus", vocab.INVESTOR_STATUSES.codes)
EnterpriseStatusCode = _codes("EnterpriseStatus", vocab.ENTERPRISE_STATUSES.codes)
RegionCode = _codes("RegionScope", vocab.REGION_SCOPES.codes)
NeedStatusCode = _codes("NeedStatus", vocab.NEED_STATUSES.codes)
SecondaryKindCode = _codes("SecondaryKind", vocab.SECONDARY_KINDS.codes)
SecondaryStatusCode = _codes("SecondaryStatus", vocab.SECONDARY_STATUSES.codes)
DisclosureCode = _codes("Disclosure", vocab.DISCLOSURE_LEVELS.codes)
CurrencyCode = _codes("Currency", vocab.CURRENCIES.codes)
DistrictCode = _codes("District", tuple(d.code for d in regions.DISTRICTS))
IndustryCode = _codes("Industry", tuple(i.code for i in industries.INDUSTRIES))

Tier = Annotated[TierCode, _to_code(vocab.TIERS.parse)]  # type: ignore[valid-type]
Board = Annotated[BoardCode, _to_code(vocab.BOARDS.parse)]  # type: ignore[valid-type]
Qualification = Annotated[QualificationCode, _to_code(vocab.QUALIFICATIONS.parse)]  # type: ignore[valid-type]
ListingTarget = Annotated[ListingTargetCode, _to_code(vocab.LISTING_TARGETS.parse)]  # type: ignore[valid-type]
Instrument = Annotated[InstrumentCode, _to_code(vocab.INSTRUMENTS.parse)]  # type: ignore[valid-type]
Round = Annotated[RoundCode, _to_code(vocab.ROUNDS.parse)]  # type: ignore[valid-type]
InvestorType = Annotated[InvestorTypeCode, _to_code(vocab.INVESTOR_TYPES.parse)]  # type: ignore[valid-type]
StateFundLevel = Annotated[StateFundLevelCode, _to_code(vocab.STATE_FUND_LEVELS.parse)]  # type: ignore[valid-type]
InvestorStatus = Annotated[InvestorStatusCode, _to_code(vocab.INVESTOR_STATUSES.parse)]  # type: ignore[valid-type]
EnterpriseStatus = Annotated[EnterpriseStatusCode,  # type: ignore[valid-type]
                             _to_code(vocab.ENTERPRISE_STATUSES.parse)]
Region = Annotated[RegionCode, _to_code(vocab.REGION_SCOPES.parse)]  # type: ignore[valid-type]
NeedStatus = Annotated[NeedStatusCode, _to_code(vocab.NEED_STATUSES.parse)]  # type: ignore[valid-type]
SecondaryKind = Annotated[SecondaryKindCode, _to_code(vocab.SECONDARY_KINDS.parse)]  # type: ignore[valid-type]
SecondaryStatus = Annotated[SecondaryStatusCode,  # type: ignore[valid-type]
                            _to_code(vocab.SECONDARY_STATUSES.parse)]
Disclosure = Annotated[DisclosureCode, _to_code(vocab.DISCLOSURE_LEVELS.parse)]  # type: ignore[valid-type]
Currency = Annotated[CurrencyCode, _to_code(vocab.CURRENCIES.parse)]  # type: ignore[valid-type]
District = Annotated[DistrictCode, _to_code(regions.parse_district)]  # type: ignore[valid-type]
Industry = Annotated[IndustryCode, _to_code(industries.parse_industry)]  # type: ignore[valid-type]
CreditCode = Annotated[str, BeforeValidator(_credit_code)]
AmacCode = Annotated[str, BeforeValidator(_amac)]
Amount = Annotated[float, _amount(), Field(ge=0, le=1e13, description="yuan; also 5000万, 1.2亿")]
SignedAmount = Annotated[float, _amount(True), Field(ge=-1e13, le=1e13, description="yuan, may be negative")]
Source = Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,40}$", description="data source, default platform")]


def Many(item: Any) -> Any:  # noqa: N802 (reads as a type)
    """A list of ``item`` that also takes one separated string (``"a，b、c"``)."""
    return Annotated[list[item], BeforeValidator(_split)]
