"""Parse one cell: amounts with 万/亿 units, dates in Chinese and ISO forms, yes/no, ratios, keys.

Every function takes the cell text and the field name, returns the typed value, and raises
:class:`~matching.errors.FieldError` naming the field, the value and what is allowed. Empty cells
never reach these functions (the row parser treats them as "not given").
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone

from matching.domain.credit_code import normalize_credit_code
from matching.errors import FieldError

#: Amounts above this (10万亿 yuan) are a unit mistake, not a Chongqing deal.
MAX_AMOUNT = 1e13
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2099, 12, 31)

_UNITS: dict[str, float] = {
    "万亿": 1e12,
    "千亿": 1e11,
    "百亿": 1e10,
    "亿": 1e8,
    "千万": 1e7,
    "百万": 1e6,
    "十万": 1e5,
    "万": 1e4,
    "千": 1e3,
    "百": 1e2,
    "k": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "bn": 1e9,
}
_AMOUNT = re.compile(
    r"^(?P<sign>[-+]?)[¥$]?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)(?P<exp>[eE][-+]?\d+)?"
    r"(?P<unit>万亿|千亿|百亿|亿|千万|百万|十万|万|千|百|k|m|mn|bn)?(?P<yuan>元|人民币|yuan|rmb|cny)?$",
    re.IGNORECASE,
)
_AMOUNT_HELP = "write e.g. 5000万, 1.2亿, 50,000,000 or 5000 万元"
_DATE = re.compile(
    r"^(?P<y>\d{4})(?:[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})|年(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日?"
    r"|(?P<m3>\d{2})(?P<d3>\d{2}))"
    r"(?:[ T]?(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2})(?P<f>\.\d{1,6})?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_DATE_HELP = "write e.g. 2024-01-05, 2024/1/5, 2024年1月5日 or 20240105"
_TRUE = frozenset({"是", "true", "t", "1", "y", "yes", "对", "√", "有"})
_FALSE = frozenset({"否", "false", "f", "0", "n", "no", "不", "×", "无"})
_SOURCE = re.compile(r"^[a-z0-9_.-]{1,40}$")
_AMAC = re.compile(r"^(P[0-9]{7}|S[A-Z0-9]{5})$")

#: ISO 3166 alpha-3 and common names → alpha-2 (a few dozen; unknown codes are kept upper-cased).
# fmt: off
_COUNTRIES = {
    "CHN": "CN", "CHINA": "CN", "中国": "CN", "PRC": "CN", "USA": "US", "UNITED STATES": "US", "美国": "US",
    "GBR": "GB", "UK": "GB", "UNITED KINGDOM": "GB", "英国": "GB", "DEU": "DE", "GERMANY": "DE", "德国": "DE",
    "FRA": "FR", "FRANCE": "FR", "法国": "FR", "JPN": "JP", "JAPAN": "JP", "日本": "JP", "KOR": "KR",
    "韩国": "KR", "HKG": "HK", "HONG KONG": "HK", "香港": "HK", "中国香港": "HK", "TWN": "TW", "台湾": "TW",
    "中国台湾": "TW",
    "MAC": "MO", "澳门": "MO", "SGP": "SG", "SINGAPORE": "SG", "新加坡": "SG", "CAN": "CA", "CANADA": "CA",
    "ISR": "IL", "ISRAEL": "IL", "IND": "IN", "INDIA": "IN", "CHE": "CH", "SWITZERLAND": "CH", "瑞士": "CH",
    "NLD": "NL", "SWE": "SE", "FIN": "FI", "DNK": "DK", "NOR": "NO", "IRL": "IE", "ESP": "ES", "ITA": "IT",
    "BEL": "BE", "AUT": "AT", "AUS": "AU", "NZL": "NZ", "BRA": "BR", "RUS": "RU", "LUX": "LU", "ARE": "AE",
    "CYM": "KY", "VGB": "VG", "BMU": "BM", "MEX": "MX", "ARG": "AR", "CHL": "CL", "ZAF": "ZA", "EST": "EE",
    "POL": "PL", "CZE": "CZ", "HUN": "HU", "PRT": "PT", "GRC": "GR", "TUR": "TR", "THA": "TH", "MYS": "MY",
    "IDN": "ID", "VNM": "VN", "PHL": "PH", "SAU": "SA", "QAT": "QA", "KWT": "KW", "EGY": "EG", "NGA": "NG",
    "KEN": "KE", "UKR": "UA", "ROM": "RO", "ROU": "RO", "BGR": "BG", "ISL": "IS", "LTU": "LT", "LVA": "LV",
}
# fmt: on


def fold(text: str) -> str:
    """NFKC-fold a cell: full-width digits, letters and punctuation become ASCII, spaces are dropped."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def parse_amount(
    value: object, field: str, *, unit: float = 1.0, allow_negative: bool = False
) -> float | None:
    """An amount in yuan (or the record's currency), as ``float``.

    Accepts ``5000万``, ``1.2亿``, ``50,000,000``, ``5000 万元``, ``５０００万``, ``¥3.5千万``, ``2.5m``.
    A number without a unit is multiplied by ``unit`` (the column's unit, e.g. 1e4 for a header
    ``注册资本(万元)``); a unit in the cell, including a bare 元, overrides it.

    Raises:
        FieldError: not an amount; negative (unless ``allow_negative``); above 1e13.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        amount = float(value) * unit
    else:
        m = _AMOUNT.match(fold(str(value)))
        if not m:
            raise FieldError(field, value, f"not an amount; {_AMOUNT_HELP}")
        number = float(m["num"].replace(",", "") + (m["exp"] or ""))
        scale = _UNITS[m["unit"].lower()] if m["unit"] else (1.0 if m["yuan"] else unit)
        amount = number * scale * (-1 if m["sign"] == "-" else 1)
        amount = float(round(amount, 6)) if scale != 1.0 else amount  # 1.2 × 1e8 is 120000000, not …01
    if not math.isfinite(amount):
        raise FieldError(field, value, f"not an amount; {_AMOUNT_HELP}")
    if amount < 0 and not allow_negative:
        raise FieldError(field, value, "must be ≥ 0")
    if abs(amount) > MAX_AMOUNT:
        raise FieldError(field, value, "implausibly large (over 1e13 = 10万亿); check the unit (元, 万, 亿)")
    return amount + 0.0  # no negative zero


def parse_datetime(value: object, field: str) -> datetime | None:
    """A timestamp: any date form of :func:`parse_date`, optionally with a time and a UTC offset.

    Raises:
        FieldError: not a date, an impossible date, or a year outside 1900–2099.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        m = _DATE.match(text)
        if not m:
            raise FieldError(field, value, f"not a date; {_DATE_HELP}")
        try:
            stamp = datetime(
                int(m["y"]),
                int(m["m"] or m["m2"] or m["m3"]),
                int(m["d"] or m["d2"] or m["d3"]),
                int(m["H"] or 0),
                int(m["M"] or 0),
                int(m["S"] or 0),
                int(((m["f"] or ".0")[1:]).ljust(6, "0")),
                tzinfo=_tz(m["tz"]),
            )
        except ValueError as exc:
            raise FieldError(field, value, f"not a valid date ({exc}); {_DATE_HELP}") from None
    if not MIN_DATE <= stamp.date() <= MAX_DATE:
        raise FieldError(field, value, f"must be between {MIN_DATE} and {MAX_DATE}")
    return stamp


def parse_date(value: object, field: str) -> date | None:
    """A calendar date from ``2024-01-05``, ``2024/1/5``, ``2024.1.5``, ``2024年1月5日``, ``20240105``
    or an ISO date-time as Excel and databases write it (the time is dropped).

    Raises:
        FieldError: not a date, an impossible date, or a year outside 1900–2099.
    """
    stamp = parse_datetime(value, field)
    return stamp.date() if stamp is not None else None


def _tz(text: str | None) -> timezone | None:
    if not text:
        return None
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_bool(value: object, field: str) -> bool | None:
    """Yes/no from 是/否, true/false, 1/0, Y/N (case-insensitive).

    Raises:
        FieldError: for anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    key = fold(str(value)).lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise FieldError(field, value, "not a yes/no value; write 是/否, true/false, 1/0 or Y/N")


def parse_int(
    value: object, field: str, *, minimum: int | None = 0, maximum: int | None = None
) -> int | None:
    """A whole number; thousands separators and Excel's ``12.0`` are accepted, as are 人/个/项/件 after it.

    Raises:
        FieldError: not a whole number, or outside ``minimum`` … ``maximum``.
    """
    if value is None:
        return None
    text = fold(str(value)).rstrip("人个项件名家年").replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise FieldError(field, value, "not a whole number") from None
    if not math.isfinite(number) or not number.is_integer():
        raise FieldError(field, value, "not a whole number")
    result = int(number)
    if minimum is not None and maximum is not None and not minimum <= result <= maximum:
        raise FieldError(field, value, f"must be between {minimum} and {maximum}")
    if minimum is not None and result < minimum:
        raise FieldError(field, value, f"must be ≥ {minimum}")
    if maximum is not None and result > maximum:
        raise FieldError(field, value, f"must be ≤ {maximum}")
    return result


def parse_ratio(
    value: object, field: str, *, percent: bool = False, minimum: float = 0.0, maximum: float = 10.0
) -> float | None:
    """A fraction: ``12%`` and ``12％`` are 0.12; a bare number is a fraction (0.12) unless the column
    is in percent (``percent=True``, e.g. a header ``研发投入占比(%)``).

    Raises:
        FieldError: not a number, or outside ``minimum`` … ``maximum`` (as a fraction).
    """
    if value is None:
        return None
    text = fold(str(value))
    is_percent = text.endswith("%")
    try:
        number = float(text.rstrip("%").replace(",", ""))
    except ValueError:
        raise FieldError(field, value, "not a ratio; write e.g. 12% or 0.12") from None
    if not math.isfinite(number):
        raise FieldError(field, value, "not a ratio; write e.g. 12% or 0.12")
    if is_percent or percent:
        number = round(number / 100, 12)
    if not minimum <= number <= maximum:
        raise FieldError(
            field,
            value,
            f"must be between {minimum:g} and {maximum:g} as a fraction "
            f"({minimum:.0%} to {maximum:.0%}); write e.g. 12% or 0.12",
        )
    return number + 0.0


def parse_text(value: object, field: str, *, max_len: int = 200) -> str | None:
    """Stripped text of at most ``max_len`` characters (empty → ``None``).

    Raises:
        FieldError: for longer text.
    """
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > max_len:
        raise FieldError(field, value, f"longer than {max_len} characters ({len(text)})")
    return text or None


def parse_source(value: object, field: str = "source") -> str:
    """A data source name: 1–40 characters of a-z, 0-9, ``_``, ``.``, ``-`` (upper case is folded).

    Raises:
        FieldError: for anything else.
    """
    text = str(value).strip().lower()
    if not _SOURCE.match(text):
        raise FieldError(
            field, value, "must be 1–40 characters of a-z, 0-9, '_', '.', '-' (e.g. platform, crunchbase)"
        )
    return text


def parse_investor_ref(value: object, field: str = "investor") -> str:
    """An investor's natural key ``source:external_id``; a bare id means source ``platform``.

    Raises:
        FieldError: for a bad source or an empty or over-long id.
    """
    text = str(value).strip()
    if ":" in text:
        source, _, external = text.partition(":")
    else:
        source, external = "platform", text
    try:
        src = parse_source(source, field)
    except FieldError:
        raise FieldError(
            field,
            value,
            "an investor key is source:external_id (e.g. platform:INV0001) or the "
            "bare external id of a platform investor; the source must be a-z, 0-9, '_', '.', '-'",
        ) from None
    external = external.strip()
    if not external or len(external) > 200:
        raise FieldError(field, value, "the external id after 'source:' must be 1–200 characters")
    return f"{src}:{external}"


def parse_enterprise_ref(value: object, field: str = "enterprise") -> str:
    """An enterprise's natural key: its unified social credit code, or ``source:external_id``.

    Raises:
        FieldError: naming what is wrong with the credit code, or with the source key.
    """
    text = str(value).strip()
    if ":" in text:
        source, _, external = text.partition(":")
        try:
            src = parse_source(source, field)
        except FieldError:
            raise FieldError(
                field,
                value,
                "an enterprise key is a unified social credit code or source:external_id "
                "(e.g. crunchbase:/company/foo); the source must be a-z, 0-9, '_', '.', '-'",
            ) from None
        if not external.strip() or len(external.strip()) > 200:
            raise FieldError(field, value, "the external id after 'source:' must be 1–200 characters")
        return f"{src}:{external.strip()}"
    try:
        return normalize_credit_code(text, field)
    except FieldError as exc:
        raise FieldError(
            field,
            value,
            f"{exc.reason}; give the enterprise's unified social credit code or source:external_id",
        ) from None


def parse_country(value: object, field: str = "country") -> str:
    """A country as an ISO alpha-2 code where known (``USA`` → ``US``, ``中国`` → ``CN``).

    Raises:
        FieldError: for fewer than 2 or more than 60 characters.
    """
    text = " ".join(str(value).split())
    code = _COUNTRIES.get(text.upper(), _COUNTRIES.get(text, text.upper() if len(text) <= 3 else text))
    if not 2 <= len(code) <= 60:
        raise FieldError(field, value, "a country code (CN, US, …) or name of 2–60 characters")
    return code


def parse_amac_code(value: object, field: str = "amac_code") -> str:
    """An AMAC registration code: manager ``P`` + 7 digits, or fund ``S`` + 5 letters/digits.

    Raises:
        FieldError: for anything else.
    """
    text = fold(str(value)).upper()
    if not _AMAC.match(text):
        raise FieldError(
            field,
            value,
            "must be an AMAC manager code P + 7 digits (e.g. P1001234) "
            "or a fund code S + 5 letters/digits (e.g. SA1234)",
        )
    return text
