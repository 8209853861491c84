"""The outcome report for operators: ``GET /v1/reports/outcomes`` (撮合成效), as JSON or CSV.

Lists served, contacts (requested, accepted), meetings, investments and amounts by district, board,
tier or investor type over a period of days in China time (``from`` and ``to`` inclusive; default:
the last 30 days). CSV is UTF-8 with a BOM and CRLF line ends, with Chinese headers and labels, so
Excel on Chinese Windows opens it as it is. Admin and operator keys only. The report is
:mod:`api.services.reports`'s, shared with the web console.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import ConnDep
from api.routes.resource_common import READ_ERRORS, StaffOnly
from api.schemas.reports import OutcomeReport
from api.services import reports as service
from api.services.reports import Dimension

router = APIRouter(prefix="/v1", tags=["reports"])


@router.get("/reports/outcomes", response_model=OutcomeReport, responses=READ_ERRORS,
            summary="Outcomes (lists served, contacts, meetings, deals, amounts) by a dimension (admin, operator)")
def outcomes(conn: ConnDep, who: StaffOnly,
             period_from: Annotated[date | None, Query(alias="from", description="First day (default: 29 days "
                                                                                 "before to)")] = None,
             period_to: Annotated[date | None, Query(alias="to", description="Last day, inclusive (default: "
                                                                             "today, China time)")] = None,
             group_by: Annotated[Dimension, Query(description="The dimension of the rows")] = "district",
             format: Annotated[Literal["json", "csv"], Query(description="json, or csv (UTF-8 with BOM)")  # noqa: A002
                               ] = "json") -> Any:
    """The period's outcomes by ``group_by``, with a total row."""
    report = service.outcome_report(conn, who, period_from, period_to, group_by)
    return service.csv_response(report) if format == "csv" else report
