"""Read the CrunchBase October 2013 export (``crunchbase-investments.csv``) as investment events.

The file is read exactly as shipped: Mac Roman, CR-only line endings, one row per (investor,
company, round). Its columns map onto the investment-events format:

| CrunchBase column | investment-events column |
|---|---|
| company_permalink | company_id |
| company_name | company_name |
| company_category_code | industry |
| company_state_code (else company_region, unless "United States - Other") | region |
| company_country_code | country (USA → US) |
| company_city | city |
| funding_round_type | round (series-c+ → c; venture, private-equity, post-ipo, crowdfunding → other) |
| funded_at | date |
| raised_amount_usd | amount, currency USD (the round's total) |
| investor_permalink | investor_id (``/company/…`` → investor_type corporate, others vc) |
| investor_name | investor_name |
| investor_country_code, investor_state_code (else investor_region) | investor_country, investor_region |
| (none) | lead: unknown |

Six names carry an older mistake of the source (UTF-8 read as Windows-1252: ``agÃ¡mi``); they
are repaired when they decode back cleanly (:func:`unmangle`). Rows lacking a date, company or
investor are set aside in ``skipped`` with the CrunchBase columns they lack (the 2013 file has one
record broken over three lines by a line break inside an investor's address).

Contains data from CrunchBase (October 2013 export), CC-BY, https://www.crunchbase.com.
"""

from __future__ import annotations

import logging
from pathlib import Path

from matching.errors import FieldError
from matching.ingest.investment_events import InvestmentEvents, Skipped, parse_investment_events
from matching.ingest.reader import Row, Table, read_table

logger = logging.getLogger(__name__)

INVESTMENTS_FILE = "crunchbase-investments.csv"
SOURCE = "crunchbase"
ATTRIBUTION = "Contains data from CrunchBase (October 2013 export), CC-BY, https://www.crunchbase.com"

#: investment-events column ← CrunchBase column (the generic fields the mapping fills directly).
_DIRECT = {
    "company_id": "company_permalink",
    "company_name": "company_name",
    "industry": "company_category_code",
    "country": "company_country_code",
    "city": "company_city",
    "round": "funding_round_type",
    "date": "funded_at",
    "amount": "raised_amount_usd",
    "investor_id": "investor_permalink",
    "investor_name": "investor_name",
    "investor_country": "investor_country_code",
}
_NEEDED = (
    *_DIRECT.values(),
    "company_state_code",
    "company_region",
    "investor_state_code",
    "investor_region",
)
_HEADERS = [*_DIRECT, "region", "currency", "investor_type", "investor_region", "lead"]


def read_crunchbase(directory: Path, *, encoding: str | None = "mac_roman") -> InvestmentEvents:
    """Read ``crunchbase-investments.csv`` from ``directory`` into enterprises, investors and events.

    Args:
        directory: the export's folder.
        encoding: the file's encoding; ``None`` detects it (it detects Mac Roman too).

    Raises:
        FieldError: the file is missing or lacks a column the mapping needs.
    """
    path = Path(directory) / INVESTMENTS_FILE
    if not path.is_file():
        raise FieldError(
            "directory", str(directory), f"has no {INVESTMENTS_FILE}; give the CrunchBase 2013 export folder"
        )
    table = read_table(path, encoding=encoding)
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        raise FieldError(
            INVESTMENTS_FILE, ", ".join(missing), "columns missing; is this the October 2013 export?"
        )
    generic = Table(_HEADERS, [_map_row(r) for r in table.rows], table.encoding, table.format, path)
    result = parse_investment_events(
        generic, source=SOURCE, default_country="US", default_currency="USD", skip_incomplete=True
    )
    result.skipped = [_relabel(s) for s in result.skipped]
    logger.info(
        "%s: %d rows, %d events, %d companies, %d investors, %d skipped, %d duplicates",
        path,
        result.rows_read,
        len(result.events),
        len(result.enterprises),
        len(result.investors),
        len(result.skipped),
        result.duplicates,
    )
    return result


def _map_row(row: Row) -> Row:
    v = row.values
    values: dict[str, str | None] = {generic: v.get(cb) for generic, cb in _DIRECT.items()}
    for name in ("company_name", "investor_name", "city"):
        values[name] = unmangle(values[name])
    region = v.get("company_region")
    values["region"] = v.get("company_state_code") or (
        None if region and region.startswith("United States") else region
    )
    values["currency"] = "USD"
    permalink = v.get("investor_permalink") or ""
    values["investor_type"] = "corporate" if permalink.startswith("/company/") else "vc"
    values["investor_region"] = v.get("investor_state_code") or v.get("investor_region")
    values["lead"] = None
    return Row(row.row, values, row.extra)


def _relabel(skipped: Skipped) -> Skipped:
    names = tuple(_DIRECT.get(f, f) for f in skipped.fields)
    return Skipped(skipped.row, f"missing {', '.join(names)}", names)


_MOJIBAKE = ("Ã", "â€", "Â")


def unmangle(text: str | None) -> str | None:
    """Undo UTF-8 text that was read as Windows-1252 before CrunchBase saved it (``agÃ¡mi`` →
    ``agámi``, ``Citiâ€™s`` → ``Citi’s``); anything that does not decode back cleanly is kept."""
    if not text or not any(m in text for m in _MOJIBAKE):
        return text
    try:
        return text.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return text
