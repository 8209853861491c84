"""The pure ingest layer: reading files in any encoding, validating rows, exporting, real deal data.

No database here: fixtures are written to ``tmp_path`` by the tests themselves.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook

from matching.domain.credit_code import make_credit_code
from matching.domain.records import Enterprise, Event, Financials, Investor, Mandate, Need, Secondary
from matching.domain.regions import locate
from matching.errors import FieldError
from matching.ingest import parse
from matching.ingest.crunchbase import read_crunchbase
from matching.ingest.export import export_records, export_rows, records_to_rows
from matching.ingest.investment_events import (
    INVESTMENT_EVENT_HEADERS,
    parse_investment_events,
    write_investment_events_csv,
)
from matching.ingest.parse import (
    RowError,
    parse_amount,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_enterprises,
    parse_events,
    parse_investors,
    parse_mandates,
    parse_needs,
    parse_ratio,
    parse_secondaries,
)
from matching.ingest.reader import ReadError, iter_table, read_table
from matching.ingest.reader_encoding import detect_encoding, normalize_encoding

CRUNCHBASE = Path("/work/shared/data/crunchbase-2013")
CODE_A = make_credit_code("9", "1", "500103", "MA5U7X8Y1")
CODE_B = make_credit_code("9", "1", "500112", "MA60ABCD2")
CODE_C = make_credit_code("9", "1", "500106", "MA61QWER3")
BAD_CODE = CODE_B[:17] + ("0" if CODE_B[17] != "0" else "1")

ZH_ENTERPRISES = (
    "统一社会信用代码,企业名称,所属区县,行业,层级,特色板块,资质,上市目标,企业简介,成立日期,注册资本(万元),"
    "年度,营业收入,净利润,研发投入占比,员工人数,专利数\n"
    f"{CODE_A},重庆渝新智能科技有限公司,渝中区,人工智能,成长层,科技创新板、专精特新板,高新技术企业；专精特新,"
    "科创板,机器视觉质检,2018年3月5日,5000,2023,1.2亿,-300万,8%,120人,35\n"
    f"{CODE_B},重庆两江新材料股份有限公司,渝北,先进材料,基础层,,,,,2020/1/5,100,,,,,,\n"
)
EN_ENTERPRISES = (
    "credit_code,name,district,industry,tier,boards,qualifications,listing_target,description,founded_on,"
    "registered_capital,year,revenue,net_profit,rd_ratio,employees,patents\n"
    f'{CODE_A},重庆渝新智能科技有限公司,500103,ai,growth,"sci_tech,srdi","high_tech,srdi_municipal",star,'
    "机器视觉质检,2018-03-05,5000万,2023,120000000,-3000000,0.08,120,35\n"
    f"{CODE_B},重庆两江新材料股份有限公司,Yubei,Advanced materials,basic,,,,,20200105,1000000,,,,,,\n"
)


def write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


# --- reading: encodings and line endings -------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_chinese_enterprise_csv_is_read_in_every_common_encoding(
    tmp_path: Path, encoding: str, detected: str
) -> None:
    table = read_table(write(tmp_path, "e.csv", ZH_ENTERPRISES, encoding))
    assert table.encoding == detected
    assert table.columns[0] == "统一社会信用代码"  # BOM stripped
    assert [r.values["企业名称"] for r in table.rows] == [
        "重庆渝新智能科技有限公司",
        "重庆两江新材料股份有限公司",
    ]
    assert [r.row for r in table.rows] == [2, 3]


def test_gb18030_only_characters_survive(tmp_path: Path) -> None:
    text = "企业名称,简介\n重庆犇骉𠀀科技有限公司,€符号与㐀\n"
    table = read_table(write(tmp_path, "e.csv", text, "gb18030"))
    assert table.encoding == "gb18030"
    assert table.rows[0].values == {"企业名称": "重庆犇骉𠀀科技有限公司", "简介": "€符号与㐀"}


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_mac_roman_names_with_any_line_ending(tmp_path: Path, newline: str) -> None:
    text = newline.join(
        ["name,city", "Société Générale,Paris", "Zürich Ventures,Zürich", "Crédit Agricole,Montrouge", ""]
    )
    table = read_table(write(tmp_path, "cb.csv", text, "mac_roman"))
    assert table.encoding == "mac-roman"
    assert [r.values["name"] for r in table.rows] == [
        "Société Générale",
        "Zürich Ventures",
        "Crédit Agricole",
    ]
    assert [r.values["city"] for r in table.rows] == ["Paris", "Zürich", "Montrouge"]
    assert [r.row for r in table.rows] == [2, 3, 4]


def test_windows_1252_is_told_from_mac_roman() -> None:
    text = "name\nCafé Müller GmbH, Köln\nStraße\n"
    assert detect_encoding(text.encode("cp1252")) == "cp1252"
    assert detect_encoding(text.encode("mac_roman")) == "mac-roman"


def test_explicit_encoding_wins_and_gbk_means_gb18030(tmp_path: Path) -> None:
    # Latin-1 bytes that detection would call something else are read as the caller says.
    path = write(tmp_path, "x.csv", "name\nÆble ©\n", "latin-1")
    assert read_table(path, encoding="latin-1").rows[0].values["name"] == "Æble ©"
    gbk = write(tmp_path, "g.csv", ZH_ENTERPRISES, "gbk")
    assert read_table(gbk, encoding="GBK").encoding == "gb18030"
    assert normalize_encoding("gb2312") == "gb18030"
    assert normalize_encoding("MacRoman") == "mac-roman"
    with pytest.raises(FieldError, match="unknown encoding"):
        normalize_encoding("klingon-8")


def test_undecodable_bytes_are_an_error_naming_the_row_never_replaced(tmp_path: Path) -> None:
    gbk = write(tmp_path, "g.csv", ZH_ENTERPRISES, "gbk")
    with pytest.raises(ReadError) as info:
        read_table(gbk, encoding="utf-8")
    assert info.value.row == 1  # the Chinese header is the first undecodable row
    assert "cannot be decoded as utf-8" in info.value.reason
    # A UTF-8 file with one stray GBK cell on row 4 is still UTF-8: the error names row 4.
    data = (
        ("名称,区县\n甲公司,渝中区\n乙公司,渝北区\n").encode() + "丙公司".encode("gbk") + ",江北区\n".encode()
    )
    with pytest.raises(ReadError) as info:
        read_table(write(tmp_path, "u.csv", data))
    assert info.value.row == 4
    assert str(info.value).startswith("u.csv row 4: ")


def test_quoted_multiline_cell_is_one_row_and_rows_count_like_excel(tmp_path: Path) -> None:
    text = 'name,description\r\nA,"line one\r\nline two"\r\n\r\nB,plain\r\n,\r\n\r\n'
    table = read_table(write(tmp_path, "m.csv", text))
    assert [(r.row, r.values["name"]) for r in table.rows] == [(2, "A"), (4, "B")]
    assert table.rows[0].values["description"] == "line one\r\nline two"


def test_headers_stripped_cells_stripped_extra_cells_kept(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "h.csv", " name , city \nA , ,x,\n"))
    assert table.columns == ["name", "city"]
    assert table.rows[0].values == {"name": "A", "city": None}
    assert table.rows[0].extra == ["x"]
    with pytest.raises(ReadError, match="names this column twice"):
        read_table(write(tmp_path, "d.csv", "name,name\n1,2\n"))


def test_tab_and_semicolon_delimited_files(tmp_path: Path) -> None:
    assert read_table(write(tmp_path, "t.tsv", "a\tb\n1\t2\n")).rows[0].values == {"a": "1", "b": "2"}
    assert read_table(write(tmp_path, "s.csv", "a;b\n1;2,5\n")).rows[0].values == {"a": "1", "b": "2,5"}


def test_excel_unicode_text_utf16_tab_separated(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "u.txt", "企业名称\t区县\r\n甲\t渝中区\r\n", "utf-16"))
    assert table.encoding == "utf-16" and table.rows[0].values == {"企业名称": "甲", "区县": "渝中区"}


def test_xlsx_dates_become_iso_and_numbers_keep_precision(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "企业"
    ws.append([" 企业名称 ", "成立日期", "注册资本", "比例", "时间", "是否"])
    ws.append(["甲", datetime(2018, 3, 5), 50000000.0, 1 / 3, datetime(2024, 1, 5, 13, 45), True])
    ws.append([None, None, None, None, None, None])
    other = wb.create_sheet("其他")
    other.append(["x"])
    other.append([1])
    path = tmp_path / "e.xlsx"
    wb.save(path)
    table = read_table(path)
    assert table.format == "xlsx" and table.columns[0] == "企业名称"
    assert table.rows[0].row == 2
    assert table.rows[0].values == {
        "企业名称": "甲",
        "成立日期": "2018-03-05",
        "注册资本": "50000000",
        "比例": "0.3333333333333333",
        "时间": "2024-01-05T13:45:00",
        "是否": "true",
    }
    assert len(table.rows) == 1  # the empty trailing row is dropped
    assert read_table(path, sheet="其他").rows[0].values == {"x": "1"}
    with pytest.raises(ReadError, match="no such sheet; the workbook has: 企业, 其他"):
        read_table(path, sheet="nope")


def test_jsonl_rows_are_line_numbers_and_bad_json_names_the_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"name": "甲", "boards": ["sci_tech", "srdi"], "capital": 5e7}, ensure_ascii=False),
        "",
        json.dumps({"name": "乙", "lead": True, "extra": None}, ensure_ascii=False),
    ]
    table = read_table(write(tmp_path, "e.jsonl", "\n".join(lines) + "\n"))
    assert table.columns == ["name", "boards", "capital", "lead", "extra"]
    assert [r.row for r in table.rows] == [1, 3]
    assert table.rows[0].values == {
        "name": "甲",
        "boards": "sci_tech,srdi",
        "capital": "50000000",
        "lead": None,
        "extra": None,
    }
    assert table.rows[1].values["lead"] == "true"
    with pytest.raises(ReadError) as info:
        read_table(write(tmp_path, "b.jsonl", lines[0] + '\n{"name": \n'))
    assert info.value.row == 2 and "not valid JSON" in info.value.reason


def test_iter_table_streams_the_same_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", ZH_ENTERPRISES)
    stream = iter_table(path)
    assert not isinstance(stream.rows, list)
    assert list(stream.rows) == read_table(path).rows


def test_reading_100k_rows_takes_seconds(tmp_path: Path) -> None:
    header = "统一社会信用代码,企业名称,所属区县,行业,层级,注册资本,成立日期,企业简介\n"
    row = f"{CODE_A},重庆某某科技有限公司,渝中区,人工智能,成长层,5000万,2020-01-05,机器视觉与工业质检\n"
    path = write(tmp_path, "big.csv", header + row * 100_000, "gbk")
    start = time.perf_counter()
    table = read_table(path)
    seconds = time.perf_counter() - start
    assert len(table.rows) == 100_000 and table.encoding == "gb18030"
    assert seconds < 10, f"reading 100k rows took {seconds:.1f} s"


# --- cell values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2亿", 120000000.0),
        ("5,000万元", 50000000.0),
        ("50,000,000", 50000000.0),
        ("5000 万元", 50000000.0),
        ("５０００万", 50000000.0),
        ("3.5千万", 35000000.0),
        ("¥800元", 800.0),
        ("2.5m", 2500000.0),
        ("0.3万", 3000.0),
        ("1e6", 1000000.0),
        ("12千", 12000.0),
    ],
)
def test_parse_amount_known_answers(text: str, expected: float) -> None:
    assert parse_amount(text, "amount") == expected


def test_parse_amount_column_unit_and_errors() -> None:
    assert parse_amount("5000", "registered_capital", unit=1e4) == 50000000.0
    assert parse_amount("800元", "registered_capital", unit=1e4) == 800.0  # the cell's unit wins
    assert parse_amount("-300万", "net_profit", allow_negative=True) == -3000000.0
    with pytest.raises(FieldError) as info:
        parse_amount("-5", "amount")
    assert (info.value.field, info.value.value, info.value.reason) == ("amount", "-5", "must be ≥ 0")
    with pytest.raises(FieldError, match=r"implausibly large \(over 1e13 = 10万亿\); check the unit"):
        parse_amount("20万亿", "amount")
    with pytest.raises(FieldError) as info:
        parse_amount("about 5 million", "amount")
    assert info.value.reason == "not an amount; write e.g. 5000万, 1.2亿, 50,000,000 or 5000 万元"
    with pytest.raises(FieldError):
        parse_amount("5,00", "amount")  # a decimal comma is not a thousands separator


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-05",
        "2024/1/5",
        "2024.1.5",
        "2024年1月5日",
        "20240105",
        "2024-01-05T00:00:00",
        "2024-01-05 13:45:00",
        " 2024-01-05 ",
    ],
)
def test_parse_date_forms(text: str) -> None:
    assert parse_date(text, "founded_on") == date(2024, 1, 5)


def test_parse_date_errors_say_what_is_allowed() -> None:
    with pytest.raises(FieldError) as info:
        parse_date("2101-01-01", "founded_on")
    assert info.value.reason == "must be between 1900-01-01 and 2099-12-31"
    with pytest.raises(FieldError, match="must be between 1900-01-01"):
        parse_date("1899-12-31", "founded_on")
    with pytest.raises(FieldError, match=r"not a valid date \(day is out of range for month\)"):
        parse_date("2024-02-30", "founded_on")
    with pytest.raises(FieldError) as info:
        parse_date("last year", "founded_on")
    assert info.value.reason == "not a date; write e.g. 2024-01-05, 2024/1/5, 2024年1月5日 or 20240105"


def test_parse_datetime_keeps_time_and_offset() -> None:
    assert parse_datetime("2024-01-05 13:45", "t") == datetime(2024, 1, 5, 13, 45)
    assert parse_datetime("2024-01-05T13:45:10.5+08:00", "t") == datetime(
        2024, 1, 5, 13, 45, 10, 500000, tzinfo=timezone(timedelta(hours=8))
    )
    assert parse_datetime("2024-01-05T05:45:00Z", "t") == datetime(2024, 1, 5, 5, 45, tzinfo=UTC)


def test_parse_bool_and_ratio() -> None:
    assert [parse_bool(v, "lead") for v in ("是", "否", "true", "FALSE", "1", "0", "Y", "n")] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    with pytest.raises(FieldError, match="not a yes/no value; write 是/否, true/false, 1/0 or Y/N"):
        parse_bool("maybe", "lead")
    assert parse_ratio("8%", "rd_ratio") == 0.08
    assert parse_ratio("８％", "rd_ratio") == 0.08
    assert parse_ratio("0.08", "rd_ratio") == 0.08
    assert parse_ratio("8", "rd_ratio", percent=True) == 0.08
    with pytest.raises(FieldError, match="must be between 0 and 10 as a fraction"):
        parse_ratio("12", "rd_ratio", maximum=10)


# --- parsing entities --------------------------------------------------------------------------------


def test_chinese_and_english_headers_give_the_same_records(tmp_path: Path) -> None:
    zh = parse_enterprises(read_table(write(tmp_path, "zh.csv", ZH_ENTERPRISES, "gbk")))
    en = parse_enterprises(read_table(write(tmp_path, "en.csv", EN_ENTERPRISES)))
    assert zh.ok and en.ok
    assert zh.records == en.records
    a, b = zh.records
    assert (a.credit_code, a.district_code, a.industry_code, a.tier) == (CODE_A, "500103", "ai", "growth")
    assert a.boards == ["sci_tech", "srdi"] and a.qualifications == ["high_tech", "srdi_municipal"]
    assert (a.listing_target, a.founded_on, a.registered_capital) == ("star", date(2018, 3, 5), 50000000.0)
    assert a.financials == [
        Financials(2023, revenue=120000000.0, net_profit=-3000000.0, rd_ratio=0.08, employees=120, patents=35)
    ]
    assert (b.district_code, b.industry_code, b.founded_on, b.registered_capital) == (
        "500112",
        "adv_materials",
        date(2020, 1, 5),
        1000000.0,
    )
    assert zh.record_rows == [2, 3]


def test_invalid_credit_code_is_reported_with_row_field_value_and_reason(tmp_path: Path) -> None:
    text = ZH_ENTERPRISES.replace(CODE_B, BAD_CODE)
    result = parse_enterprises(read_table(write(tmp_path, "e.csv", text)))
    assert [r.credit_code for r in result.records] == [CODE_A]
    assert result.errors == [
        RowError(
            row=3,
            field="credit_code",
            value=BAD_CODE,
            reason=f"check character is '{BAD_CODE[17]}' but should be '{CODE_B[17]}' (GB 32100-2015)",
            column="统一社会信用代码",
        )
    ]
    assert "check character" in result.errors[0].reason
    assert [r.row for r in result.rejected_rows] == [3]


def test_every_bad_field_of_a_row_is_reported(tmp_path: Path) -> None:
    text = (
        "统一社会信用代码,企业名称,所属区县,层级,注册资本,成立日期,特色板块\n"
        f"{CODE_A},,成都,顶层,-5,2150-01-01,科技创新板、火星板\n"
    )
    result = parse_enterprises(read_table(write(tmp_path, "e.csv", text)))
    assert not result.records
    assert [(e.row, e.field, e.value) for e in result.errors] == [
        (2, "name", ""),
        (2, "district_code", "成都"),
        (2, "tier", "顶层"),
        (2, "registered_capital", "-5"),
        (2, "founded_on", "2150-01-01"),
        (2, "boards", "火星板"),
    ]
    reasons = {e.field: e.reason for e in result.errors}
    assert reasons["name"] == "a value is required"
    assert reasons["tier"].startswith(
        "unknown value; allowed: basic (基础层), growth (成长层), select (优选层)"
    )
    assert reasons["registered_capital"] == "must be ≥ 0"
    assert "not one of Chongqing's 38 district-level units" in reasons["district_code"]


def test_duplicates_and_financial_years(tmp_path: Path) -> None:
    text = (
        "credit_code,name,year,revenue\n"
        f"{CODE_A},甲,2022,1亿\n"
        f"{CODE_A},甲,2023,1.5亿\n"
        f"{CODE_A},甲,2024,2亿\n"
        f"{CODE_A},甲,2023,9亿\n"  # same year again
        f"{CODE_A},乙,2025,1亿\n"  # contradicting profile
        f"{CODE_B},丙,,\n"
        f"{CODE_B},丙,,\n"
    )
    result = parse_enterprises(read_table(write(tmp_path, "e.csv", text)))
    assert [f.year for f in result.records[0].financials] == [2022, 2023, 2024]
    assert result.record_rows == [2, 7]
    assert [(e.row, e.field, e.reason) for e in result.errors] == [
        (5, "credit_code", "duplicate of row 3 (same year 2023)"),
        (
            6,
            "credit_code",
            "same enterprise as row 2 but name differs ('甲'); give the profile once and one row "
            "per financial year",
        ),
        (8, "credit_code", "duplicate of row 7"),
    ]


def test_header_problems_are_reported_once_on_row_1(tmp_path: Path) -> None:
    result = parse_investors(read_table(write(tmp_path, "i.csv", "机构名称,备注\n甲基金,x\n")))
    assert result.errors == [
        RowError(1, "investor_type", "", "required column missing; name it 'investor_type' or '机构类型'")
    ]
    assert len(result.rejected_rows) == 1
    both = parse_investors(read_table(write(tmp_path, "j.csv", "机构名称,name,机构类型\n甲,甲,VC\n")))
    assert both.errors[0].reason == "columns '机构名称' and 'name' both give name; keep one"


def test_investors_state_funds_amac_codes_and_units(tmp_path: Path) -> None:
    text = (
        "机构编号,机构名称,机构类型,国资层级,基金业协会编码,管理规模(亿元),机构状态,所在区县\n"
        ",重庆产业引导基金,政府引导基金,市级,P1001234,120,投资期,渝北区\n"
        "I2,某创投,创投,,p1005678,3.5,募资期,\n"
        "I3,某区县基金,国有基金,,P1009999,,,\n"
        "I4,重复编码基金,PE,,P1005678,,,\n"
    )
    result = parse_investors(read_table(write(tmp_path, "i.csv", text)))
    first, second = result.records
    assert (first.key, first.investor_type, first.state_fund_level, first.aum) == (
        "platform:P1001234",
        "state_fund",
        "municipal",
        12000000000.0,
    )
    assert (first.district_code, first.province) == ("500112", "重庆")
    assert (second.amac_code, second.status, second.aum) == ("P1005678", "fundraising", 350000000.0)
    assert [(e.row, e.field, e.reason) for e in result.errors] == [
        (
            4,
            "state_fund_level",
            "required for a state-owned / guidance fund: municipal (市级) or district (区县级)",
        ),
        (5, "amac_code", "duplicate of row 3 (amac_code must be unique)"),
    ]


def test_mandates_lists_and_ticket_range(tmp_path: Path) -> None:
    text = (
        "机构编号,版本,投资领域,投资阶段,单笔投资下限,单笔投资上限,地域,重点区县,层级偏好,融资工具,返投比例,排除企业\n"
        "I1,1,人工智能；生物医药,天使轮、A轮,500万,5000万,重庆市内|成渝地区,渝中区、江北,成长层,股权融资,150%,"
        f"{CODE_B}\n"
        "crunchbase:/financial-organization/x,2,software,series-a,1亿,1000万,,,,,,\n"
    )
    result = parse_mandates(read_table(write(tmp_path, "m.csv", text)))
    (m,) = result.records
    assert m == Mandate(
        investor_key="platform:I1",
        version=1,
        sectors=["ai", "biomedicine"],
        stages=["angel", "a"],
        ticket_min=5000000.0,
        ticket_max=50000000.0,
        regions=["chongqing", "chengyu"],
        districts=["500103", "500105"],
        tiers=["growth"],
        instruments=["equity"],
        local_reinvest_ratio=1.5,
        excluded_enterprises=[CODE_B],
    )
    assert [(e.row, e.field, e.value, e.reason) for e in result.errors] == [
        (3, "ticket_max", "1000万", "must be ≥ ticket_min (100000000)")
    ]


def test_needs_secondaries_and_events(tmp_path: Path) -> None:
    needs = parse_needs(
        read_table(
            write(
                tmp_path,
                "n.csv",
                "需求编号,统一社会信用代码,融资工具,融资金额,轮次,开始日期,截止日期\n"
                f"N1,{CODE_A},上市贷,3000万,Pre-IPO,2024-01-01,2024-06-30\n"
                f"N2,{CODE_A},股权融资,1亿,A轮,2024-03-01,2024-02-01\n"
                "N3,E001,股权融资,1亿,,,\n",
            )
        )
    )
    assert needs.records == [
        Need(
            "N1",
            CODE_A,
            "ipo_loan",
            30000000.0,
            round="pre_ipo",
            opened_on=date(2024, 1, 1),
            closes_on=date(2024, 6, 30),
        )
    ]
    assert [(e.row, e.field) for e in needs.errors] == [(3, "closes_on"), (4, "enterprise_key")]
    assert needs.errors[1].reason == (
        "must be 18 characters (GB 32100-2015), got 4; give the enterprise's unified "
        "social credit code or source:external_id"
    )
    secondaries = parse_secondaries(
        read_table(
            write(
                tmp_path,
                "s.csv",
                "挂牌编号,标的类型,出让方,标的企业,基金名称,挂牌价格,资产净值,设立年份\n"
                "S1,基金份额,某母基金,,重庆科创一期基金,8000万,1亿,2018\n"
                "S2,老股,某创投,,,500万,,\n",
            )
        )
    )
    assert secondaries.records[0].discount == pytest.approx(0.2)
    assert [(e.row, e.field) for e in secondaries.errors] == [(3, "enterprise_key")]
    events_csv = (
        "投资方,企业,事件类型,时间,是否领投,金额\n"
        f"I1,{CODE_A},会面,2024-01-05 10:00,是,\n"
        f"I1,{CODE_A},已投资,2024-03-01,是,5000万\n"
    )
    first = parse_events(read_table(write(tmp_path, "v.csv", events_csv)))
    again = parse_events(read_table(write(tmp_path, "w.csv", events_csv)))
    assert [e.event_type for e in first.records] == ["meeting", "invested"]
    assert first.records[0].event_key.startswith("platform:") and first.records == again.records
    assert first.records[1].lead is True and first.records[1].amount == 50000000.0


def test_columns_cover_every_record_field_and_the_docstring_is_current() -> None:
    covered = {
        "enterprises": (Enterprise, {"financials"}),
        "investors": (Investor, set()),
        "mandates": (Mandate, set()),
        "needs": (Need, set()),
        "secondaries": (Secondary, set()),
        "events": (Event, set()),
    }
    for entity, (cls, skip) in covered.items():
        names = {c.field for c in parse.COLUMNS[entity]}
        missing = {f.name for f in fields(cls)} - skip - names
        assert not missing, f"{entity}: record fields without an import column: {missing}"
        assert names - {f.name for f in fields(cls)} <= {f.name for f in fields(Financials)}
    assert parse.columns_doc() in (parse.__doc__ or "")


# --- export → import round trip ----------------------------------------------------------------------


def sample_records() -> dict[str, list[object]]:
    cst = timezone(timedelta(hours=8))
    return {
        "enterprises": [
            Enterprise(
                name="重庆渝新智能科技有限公司",
                credit_code=CODE_A,
                short_name="渝新智能",
                district_code="500103",
                industry_code="ai",
                tier="select",
                boards=["sci_tech", "liangjiang"],
                qualifications=["little_giant", "high_tech"],
                listing_target="star",
                description="机器视觉, 工业质检; 含逗号",
                founded_on=date(2018, 3, 5),
                registered_capital=50000000.0,
                disclosure="on_request",
                excluded_investor_types=["qfi"],
                excluded_investors=["platform:I9"],
                financials=[
                    Financials(2022, 1.0e8, -2.5e6, 0.3, 0.081, 120, 35),
                    Financials(2023, 1.23456789e8, 1.0e6, None, 0.0755, 150, 40),
                ],
                created_at=datetime(2024, 1, 2, 9, 30, tzinfo=cst),
            ),
            Enterprise(
                name="AdverCar",
                source="crunchbase",
                external_id="/company/advercar",
                province="CA",
                country="US",
                city="San Francisco",
                industry_raw="advertising",
                description="=SUM(A1)",
            ),
            Enterprise(
                name="沙坪坝小微企业",
                credit_code=CODE_C,
                district_code="500106",
                province="重庆",
                industry_code="food_agri",
                status="inactive",
            ),
        ],
        "investors": [
            Investor(
                name="重庆产业引导基金",
                investor_type="state_fund",
                external_id="P1001234",
                state_fund_level="municipal",
                amac_code="P1001234",
                aum=1.2e10,
                district_code="500112",
            ),
            Investor(
                name="Condé Nast",
                investor_type="corporate",
                source="crunchbase",
                external_id="/company/conde",
                province="NY",
                country="US",
                status="exiting",
                description="-media",
            ),
        ],
        "mandates": [
            Mandate(
                investor_key="platform:P1001234",
                version=2,
                valid_from=datetime(2024, 1, 1, tzinfo=cst),
                sectors=["ai", "ic_power_semi"],
                sectors_raw=["software"],
                stages=["pre_a", "a", "d_plus"],
                ticket_min=5e6,
                ticket_max=5e7,
                currency="CNY",
                regions=["chongqing", "western"],
                districts=["500103", "500240"],
                tiers=["growth", "select"],
                boards=["srdi"],
                instruments=["equity", "convertible"],
                excluded_sectors=["textiles"],
                excluded_enterprises=[CODE_C, "crunchbase:/company/advercar"],
                local_reinvest_ratio=1.5,
                thesis="硬科技",
            ),
        ],
        "needs": [
            Need(
                "N1",
                CODE_A,
                "ip_pledge",
                3.0e7,
                round="pre_ipo",
                status="in_progress",
                opened_on=date(2024, 1, 1),
                closes_on=date(2024, 6, 30),
                use_of_funds="扩产",
            )
        ],
        "secondaries": [
            Secondary(
                "S1",
                "fund_interest",
                "某母基金",
                seller_investor_key="platform:P1001234",
                fund_name="重庆科创一期",
                asking_price=8e7,
                nav=1e8,
                vintage=2018,
                listed_on=date(2024, 5, 1),
            ),
            Secondary(
                "S2",
                "old_shares",
                "某创投",
                enterprise_key=CODE_A,
                asking_price=5e6,
                currency="USD",
                status="under_offer",
            ),
        ],
        "events": [
            Event(
                "ev-1",
                "platform:P1001234",
                CODE_A,
                "term_sheet",
                datetime(2024, 2, 3, 10, 0, 5, 123456, tzinfo=cst),
                actor="enterprise",
                need_ref="N1",
                list_id="0b5f8a2e-7a57-4a57-9a8e-4f4bd6a2c001",
                amount=3e7,
                currency="CNY",
                round="pre_ipo",
                lead=False,
            ),
            Event(
                "ev-2",
                "crunchbase:/company/conde",
                "crunchbase:/company/advercar",
                "invested",
                datetime(2012, 10, 30),
                source="crunchbase",
                amount=2e6,
                currency="USD",
                round="a",
                lead=True,
            ),
        ],
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_export_then_import_gives_equal_records(tmp_path: Path, fmt: str, lang: str) -> None:
    for entity, records in sample_records().items():
        path = tmp_path / f"{entity}.{fmt}"
        export_records(records, path, lang=lang)  # type: ignore[arg-type]
        result = parse.PARSERS[entity](read_table(path))
        assert result.errors == [], f"{entity}: {result.errors}"
        assert result.records == records, entity


def test_csv_export_opens_in_excel(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    export_rows(
        [
            {"企业名称": "重庆渝新", "金额": 50000000.0, "备注": "=cmd|' /C calc'!A0", "净利润": "-300"},
            {"企业名称": "乙", "金额": None},
        ],
        path,
        columns=["企业名称", "金额", "备注", "净利润"],
        fmt="csv",
    )
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == 3
    assert "'=cmd" in data.decode("utf-8-sig") and ",-300\r\n" in data.decode("utf-8-sig")
    rows = read_table(path).rows
    assert rows[0].values == {
        "企业名称": "重庆渝新",
        "金额": "50000000",
        "备注": "=cmd|' /C calc'!A0",
        "净利润": "-300",
    }


def test_xlsx_export_has_bold_header_and_typed_cells(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "e.xlsx"
    export_records(sample_records()["needs"], path, lang="zh")
    ws = load_workbook(path).worksheets[0]
    assert ws["A1"].value == "需求编号" and ws["A1"].font.b
    assert ws["D2"].value == 30000000 and ws["D1"].value == "融资金额"
    assert ws["C2"].value == "知识产权质押贷"


def test_records_to_rows_one_row_per_financial_year() -> None:
    rows = records_to_rows(sample_records()["enterprises"][:1])
    assert [r["year"] for r in rows] == [2022, 2023]
    assert rows[0]["boards"] == "sci_tech,liangjiang" and rows[0]["district"] == "500103"
    zh = records_to_rows(sample_records()["enterprises"][:1], lang="zh")
    assert zh[0]["特色板块"] == "科技创新板、两江协同创新专板" and zh[0]["所属区县"] == "渝中区"


# --- investment events and CrunchBase ------------------------------------------------------------------


def deal_rows() -> list[dict[str, object]]:
    base = {
        "date": "2023-05-10",
        "company_id": "c1",
        "company_name": "重庆渝新智能",
        "industry": "人工智能",
        "region": "渝中区",
        "round": "A轮",
        "amount": "5000万",
        "currency": "CNY",
        "investor_id": "v1",
        "investor_name": "甲创投",
        "lead": "是",
    }
    return [
        base,
        {**base, "investor_id": "v2", "investor_name": "乙资本", "lead": "否"},
        dict(base),  # an exact repeat
        {
            **base,
            "company_id": "c2",
            "company_name": "成都某科技",
            "region": "四川省",
            "industry": "fintech",
            "round": "weird-round",
            "amount": "",
            "lead": "",
        },
        {
            **base,
            "company_id": "c3",
            "company_name": "Acme",
            "region": "CA",
            "country": "USA",
            "round": "series-c+",
            "amount": "2,000,000",
            "currency": "USD",
        },
        {**base, "company_id": "", "investor_id": "", "date": ""},
        {**base, "company_id": "c4", "amount": "-1"},
    ]


def test_investment_events_format(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    write_investment_events_csv(deal_rows(), path)
    assert read_table(path).columns == list(INVESTMENT_EVENT_HEADERS)
    out = parse_investment_events(read_table(path), source="demo")
    assert out.rows_read == 7 and out.duplicates == 1
    assert [(e.row, e.field) for e in out.errors] == [
        (7, "date"),
        (7, "company_id"),
        (7, "investor_id"),
        (8, "amount"),
    ]
    assert [e.external_id for e in out.enterprises] == ["c1", "c2", "c3"]
    c1, c2, c3 = out.enterprises
    assert (c1.district_code, c1.province, c1.country, c1.industry_code, c1.industry_raw) == (
        "500103",
        "重庆",
        "CN",
        "ai",
        "人工智能",
    )
    assert (c2.district_code, c2.province, c2.country, c2.industry_code) == (None, "四川", "CN", None)
    assert (c3.province, c3.country) == ("CA", "US")
    assert [i.key for i in out.investors] == ["demo:v1", "demo:v2"]
    assert [
        (e.enterprise_key, e.investor_key, e.round, e.amount, e.currency, e.lead) for e in out.events
    ] == [
        ("demo:c1", "demo:v1", "a", 50000000.0, "CNY", True),
        ("demo:c1", "demo:v2", "a", 50000000.0, "CNY", False),
        ("demo:c2", "demo:v1", "other", None, "CNY", None),
        ("demo:c3", "demo:v1", "c", 2000000.0, "USD", True),
    ]
    assert out.unmapped_rounds == {"weird-round": 1}
    assert out.events[0].occurred_at == datetime(2023, 5, 10) and out.events[0].event_type == "invested"


def test_investment_event_keys_are_idempotent(tmp_path: Path) -> None:
    rows = deal_rows()[:5]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_investment_events_csv(rows, a)
    write_investment_events_csv(list(reversed(rows)), b)
    first = parse_investment_events(read_table(a), source="demo")
    second = parse_investment_events(read_table(b), source="demo")
    assert sorted(e.event_key for e in first.events) == sorted(e.event_key for e in second.events)
    assert len({e.event_key for e in first.events}) == len(first.events) == 4
    other_source = parse_investment_events(read_table(a), source="other")
    assert not {e.event_key for e in first.events} & {e.event_key for e in other_source.events}


def test_conflicting_repeats_keep_the_first_row_with_a_warning(tmp_path: Path) -> None:
    base = deal_rows()[0]
    path = tmp_path / "d.csv"
    write_investment_events_csv(
        [{**base, "amount": ""}, {**base, "amount": "100"}, {**base, "amount": "200"}], path
    )
    out = parse_investment_events(read_table(path), source="demo")
    assert len(out.events) == 1 and out.events[0].amount == 100.0  # the blank is filled from row 3
    assert [(w.row, w.field, w.value) for w in out.warnings] == [(4, "amount", "200")]
    assert not out.errors


def test_skip_incomplete_sets_rows_aside() -> None:
    from matching.ingest.reader import Row, Table

    table = Table(
        ["date", "company_id", "company_name", "investor_id", "investor_name"],
        [
            Row(
                2,
                {
                    "date": "2020-01-01",
                    "company_id": "c",
                    "company_name": "C",
                    "investor_id": None,
                    "investor_name": "V",
                },
            )
        ],
        "utf-8",
        "csv",
    )
    out = parse_investment_events(table, source="x", skip_incomplete=True)
    assert not out.errors and [(s.row, s.reason) for s in out.skipped] == [(2, "missing investor_id")]


def test_locate_free_text_regions() -> None:
    assert locate("渝中区", None) == ("500103", "重庆", "CN")
    assert locate("重庆市江北区", None) == ("500105", "重庆", "CN")
    assert locate("广西壮族自治区", None) == (None, "广西", "CN")
    assert locate("CA", "US") == (None, "CA", "US")
    assert locate("London", None, "GB") == (None, "London", "GB")


@pytest.mark.skipif(not CRUNCHBASE.is_dir(), reason="the CrunchBase 2013 export is not on this machine")
def test_crunchbase_2013_export_reads_as_shipped() -> None:
    raw = (CRUNCHBASE / "crunchbase-investments.csv").read_bytes()
    assert detect_encoding(raw) == "mac-roman"
    out = read_crunchbase(CRUNCHBASE)
    assert out.rows_read == 52870
    assert len(out.events) > 50_000
    # every row accounted for: an event, a repeat of one, or set aside
    assert len(out.events) + out.duplicates + out.merged + len(out.skipped) == out.rows_read
    assert not out.errors
    assert [(s.row, s.reason) for s in out.skipped] == [
        (34226, "missing funded_at"),
        (34227, "missing funded_at, company_name, investor_permalink, investor_name"),
        (34228, "missing funded_at, company_permalink, investor_permalink, investor_name"),
    ]
    names = {e.name for e in out.enterprises}
    investors = {i.name for i in out.investors}
    assert {"MiaSolé", "Qualtré", "Jack and Jake’s", "agámi Systems"} <= names
    assert {
        "Condé Nast",
        "Crédit Agricole Private Equity",
        "Mérieux Développement",
        "3i Deutschland Gesellschaft für Industriebeteiligungen",
    } <= investors
    advercar = next(e for e in out.enterprises if e.external_id == "/company/advercar")
    assert (advercar.key, advercar.province, advercar.country, advercar.city, advercar.industry_raw) == (
        "crunchbase:/company/advercar",
        "CA",
        "US",
        "San Francisco",
        "advertising",
    )
    assert {e.round for e in out.events} == {"a", "b", "c", "angel", "other"}
    assert all(e.currency == "USD" and e.event_type == "invested" for e in out.events)
    assert len({e.event_key for e in out.events}) == len(out.events)
