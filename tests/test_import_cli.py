"""`capconnect import / export / generate` end to end against a real PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from matching.domain.credit_code import make_credit_code

HEADER = ["统一社会信用代码", "企业名称", "所属区县", "所属行业", "层级", "特色板块", "企业简介", "年度", "营业收入"]




def _code(i: int) -> str:
    return make_credit_code("9", "1", "500112", f"MA60{i:05d}")


def _rows(bad_code: str | None = None) -> list[list[str]]:
    rows = [[_code(i), f"重庆锂电{i}号新能源科技有限公司", "渝北区", "新能源及新型储能", "成长层", "专精特新板",
             "钠离子电池、锂、钴、镍材料研发", "2024", "5000万"] for i in range(3)]
    if bad_code:
        rows[1][0] = bad_code
    return rows


def _write(path: Path, rows: list[list[str]], encoding: str, newline: str = "\r\n") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _counts(stdout: str) -> dict[str, tuple[int, ...]]:
    pattern = r"^(\w+)\s+received\s+([\d,]+)\s+inserted\s+([\d,]+)\s+updated\s+([\d,]+)\s+unchanged\s+([\d,]+)"
    return {m[0]: tuple(int(x.replace(",", "")) for x in m[1:]) for m in re.findall(pattern, stdout, re.M)}


def _count(db, table: str = "enterprises") -> int:  # type: ignore[no-untyped-def]
    with db.connect() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_gbk_file_with_a_bad_credit_code_imports_nothing(cli, db, tmp_path: Path) -> None:
    bad = _code(1)[:-1] + ("0" if _code(1)[-1] != "0" else "1")
    path = _write(tmp_path / "企业.csv", _rows(bad), "gbk")
    result = cli("import", "enterprises", str(path))
    assert result.exit_code == 1
    assert "encoding gb18030" in result.stdout
    assert "1 problem(s)" in result.stderr
    assert f"row 3: credit_code = '{bad}'" in result.stderr and "check character" in result.stderr
    assert "nothing imported" in result.stderr
    assert _count(db) == 0

    rejects = tmp_path / "rejects.csv"
    result = cli("import", "enterprises", str(path), "--skip-invalid", "--rejects", str(rejects))
    assert result.exit_code == 0, result.stderr
    assert _count(db) == 2
    text = rejects.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: opens cleanly in Excel
    lines = text.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and bad in lines[1] and "check character" in lines[1]


@pytest.mark.parametrize(("encoding", "newline"), [("utf-8-sig", "\n"), ("gb18030", "\r\n"), ("utf-8", "\r")])
def test_encodings_and_line_endings_import_and_twice_changes_nothing(cli, db, tmp_path: Path, encoding: str,
                                                                     newline: str) -> None:
    path = _write(tmp_path / "e.csv", _rows(), encoding, newline)
    first = cli("import", "enterprises", str(path))
    assert first.exit_code == 0, first.stderr
    with db.connect() as conn:
        assert conn.execute("SELECT name, tier, boards FROM enterprises ORDER BY name LIMIT 1").fetchone() == (
            "重庆锂电0号新能源科技有限公司", "growth", ["srdi"])
    second = cli("import", "enterprises", str(path))
    assert second.exit_code == 0
    assert _counts(second.stdout)["enterprises"] == (3, 0, 0, 3)


def test_mac_roman_with_cr_line_endings(cli, db, tmp_path: Path) -> None:
    path = tmp_path / "inv.csv"
    path.write_bytes("external_id,name,investor_type\rsg,Société Générale Capital,pe\rzh,Zürich Ventures,vc\r"
                     .encode("mac_roman"))
    result = cli("import", "investors", str(path))
    assert result.exit_code == 0, result.stderr
    assert "mac_roman" in result.stdout.lower().replace("-", "_")
    with db.connect() as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM investors ORDER BY name")]
    assert names == ["Société Générale Capital", "Zürich Ventures"]


def test_generate_export_import_round_trip(cli, db, tmp_path: Path) -> None:
    result = cli("generate", "--enterprises", "120", "--investors", "15", "--months", "3", "--seed", "5")
    assert result.exit_code == 0, result.stderr
    counts = {t: _count(db, t) for t in ("enterprises", "investors", "mandates", "financing_needs",
                                         "secondary_listings", "funnel_events")}
    assert counts["enterprises"] == 120 and counts["investors"] == 15 and counts["funnel_events"] > 0
    again = cli("generate", "--enterprises", "120", "--investors", "15", "--months", "3", "--seed", "5")
    assert again.exit_code == 0
    assert {t: _count(db, t) for t in counts} == counts  # same seed, same market: nothing new
    for entity in ("enterprises", "investors", "mandates", "needs", "secondaries", "events"):
        for suffix in ("csv", "xlsx"):
            out = tmp_path / f"{entity}.{suffix}"
            exported = cli("export", entity, str(out))
            assert exported.exit_code == 0, exported.stderr
            reimport = cli("import", entity, str(out))
            assert reimport.exit_code == 0, (entity, suffix, reimport.stderr[-2000:])
            tables = _counts(reimport.stdout)
            assert tables, reimport.stdout
            for table, (received, inserted, updated, unchanged) in tables.items():
                # nothing inserted or updated: every row comes back unchanged
                assert inserted == updated == 0 and unchanged == received, (entity, suffix, table)
    assert {t: _count(db, t) for t in counts} == counts


CRUNCHBASE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crunchbase-2013"


@pytest.mark.skipif(not CRUNCHBASE.exists(), reason="the shared CrunchBase export is not beside the checkout")
def test_crunchbase_imports_every_investment_row_and_twice_changes_nothing(cli, db) -> None:
    first = cli("import", "crunchbase", str(CRUNCHBASE))
    assert first.exit_code == 0, first.stderr
    assert "52,870 investment rows read → 52,712 distinct events" in first.stdout
    assert _counts(first.stdout)["funnel_events"] == (52712, 52712, 0, 0)
    second = cli("import", "crunchbase", str(CRUNCHBASE))
    assert all(c[1] == c[2] == 0 for c in _counts(second.stdout).values())
    with db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM funnel_events WHERE event_type = 'invested'").fetchone()[0] == 52712
        assert conn.execute("SELECT count(*) FROM enterprises WHERE source = 'crunchbase'").fetchone()[0] == 11572
        assert conn.execute("SELECT name FROM enterprises WHERE name LIKE 'MiaSol%'").fetchone()[0] == "MiaSolé"
