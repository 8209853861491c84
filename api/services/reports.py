"""The outcome report (撮合成效) for operators and admins, as ``GET /v1/reports/outcomes``
(:mod:`api.routes.reports`) and the console's operator page serve it.

Lists served, contacts (requested, accepted), meetings, investments and amounts by district, board,
tier or investor type over a period of days in China time (``from`` and ``to`` inclusive; default:
the last 30 days). CSV is UTF-8 with a BOM and CRLF line ends, with Chinese headers and labels, so
Excel on Chinese Windows opens it as it is.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal, get_args

from fastapi import Response

from api.deps import STAFF, Principal
from api.services.checks import authorize, invalid
from matching.domain import vocab
from store import reports as reports_db

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
#: The days a report may name: the calendar's ends would overflow the period's arithmetic.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
Dimension = Literal["district", "board", "tier", "investor_type"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)

DIMENSION_ZH = {"district": "区县", "board": "特色板块", "tier": "层级", "investor_type": "机构类型"}
NO_VALUE_ZH = {"district": "重庆市外或未填", "board": "未入特色板块", "tier": "未知", "investor_type": "未知"}
_VOCABS = {"board": vocab.BOARDS, "tier": vocab.TIERS, "investor_type": vocab.INVESTOR_TYPES}
CSV_COLUMNS = (("lists_served", "推荐列表数"), ("impressions", "曝光次数"), ("contacts_requested", "请求联系"),
               ("contacts_accepted", "同意联系"), ("meetings", "会面"), ("investments", "投资笔数"),
               ("enterprises_funded", "获投企业数"), ("amount_invested", "投资金额（元）"))


def outcome_report(conn: Any, who: Principal, period_from: date | None, period_to: date | None,
                   group_by: str) -> dict[str, Any]:
    """The period's outcomes by ``group_by`` (one of :data:`DIMENSIONS`), with a total row (staff only)."""
    authorize(who, *STAFF)
    if group_by not in DIMENSIONS:
        raise invalid("group_by", group_by, f"不支持的分组：{group_by}", f"group_by must be one of "
                      f"{', '.join(DIMENSIONS)}", DIMENSIONS)
    for field, day in (("from", period_from), ("to", period_to)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise invalid(field, day.isoformat(), f"日期须在 {EARLIEST} 至 {LATEST} 之间",
                          f"{field} must lie between {EARLIEST} and {LATEST}", [f"{EARLIEST} … {LATEST}"])
    last = period_to or datetime.now(CHINA).date()
    first = period_from or last - timedelta(days=29)
    if first > last:
        raise invalid("from", first.isoformat(), "开始日期不能晚于结束日期", f"from {first} is after to {last}")
    start = datetime.combine(first, time.min, CHINA)
    end = datetime.combine(last + timedelta(days=1), time.min, CHINA)
    groups = reports_db.outcomes(conn, start=start, end=end, group_by=group_by)
    totals = reports_db.outcomes(conn, start=start, end=end, group_by=None).get(None, {})
    labels = reports_db.district_names(conn) if group_by == "district" else {
        t.code: t.zh for t in _VOCABS[group_by]}
    rows = [_row(code, name, groups.get(code, {})) for code, name in labels.items()]
    rows += [_row(str(k), str(k), v) for k, v in groups.items() if k is not None and k not in labels]
    if None in groups:
        rows.append(_row(None, NO_VALUE_ZH[group_by], groups[None]))
    report = {"group_by": group_by, "group_by_zh": DIMENSION_ZH[group_by], "period_from": first,
              "period_to": last, "currency": "CNY", "rows": rows, "total": _row(None, "合计", totals)}
    return report


def data_end(conn: Any) -> date | None:
    """The day a default report period should end: today, or the day of the last funnel event when the data
    stops before today (an imported or demo market), so the default 30 days show activity (``None``: today)."""
    last = reports_db.last_activity(conn)
    if last is None:
        return None
    day = last.astimezone(CHINA).date()
    return day if day < datetime.now(CHINA).date() else None


def csv_response(report: dict[str, Any]) -> Response:
    """The report as a CSV download (:func:`to_csv`), named by its dimension and period."""
    group_by, first, last = report["group_by"], report["period_from"], report["period_to"]
    name = f"outcomes_{group_by}_{first.isoformat()}_{last.isoformat()}.csv"
    return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _row(key: str | None, label: str, metrics: dict[str, float]) -> dict[str, Any]:
    values: dict[str, Any] = {m: metrics.get(m, 0) for m in reports_db.METRICS}
    values["amount_invested"] = float(values["amount_invested"])
    return {"key": key, "label": label, **values}


def to_csv(report: dict[str, Any]) -> bytes:
    """The report as CSV bytes: UTF-8 with BOM, CRLF, Chinese headers, the total as the last row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["代码", report["group_by_zh"], *(zh for _, zh in CSV_COLUMNS)])
    for row in [*report["rows"], report["total"]]:
        writer.writerow([row["key"] or "", row["label"], *(_number(row[m]) for m, _ in CSV_COLUMNS)])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _number(value: float) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)
