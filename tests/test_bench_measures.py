"""The two benchmark measures at tiny sizes: their structure and their checks, not their timings."""

from __future__ import annotations

import pytest
from helpers_encoder import HashingEncoder

from bench.scale.measures import bulk_import, changed_texts, encoder_throughput, profile_texts


def test_bulk_import_lands_every_row_in_both_encodings(pg_admin_url: str) -> None:
    lines: list[str] = []
    out = bulk_import(pg_admin_url, n_rows=200, baseline_rows=20, progress=lines.append)
    assert out["rows"] == 200
    assert out["baseline_rows"] == 20
    assert out["verified"] is True
    assert int(out["csv_lines"]) >= 200  # type: ignore[call-overload]  # one line per financial year
    for key in ("rows_per_s", "gb18030_rows_per_s", "baseline_rows_per_s", "speedup"):
        assert float(out[key]) > 0  # type: ignore[arg-type]
    assert len(lines) == 3  # one line per step, through the callback only


def test_encoder_throughput_reencodes_only_the_changed_texts() -> None:
    texts = profile_texts(40)
    assert len(texts) == 40 and len(set(texts)) == 40
    encoder = HashingEncoder()
    out = encoder_throughput(encoder, texts, changed_share=0.1, batch_size=8)
    assert out["texts"] == 40
    assert out["changed"] == 4
    assert out["incremental_encoded"] == 4
    assert encoder.calls == 40 + 4 + 8  # full build, changed texts, warm-up batch


def test_changed_texts_spreads_the_share_and_refuses_a_bad_one() -> None:
    new, picked = changed_texts(["a", "b", "c", "d"], 0.5)
    assert picked == [0, 3]
    assert new == ["a2025年新增专利3项。", "b", "c", "d2025年新增专利3项。"]
    with pytest.raises(ValueError, match=r"changed_share must be in \(0, 1\], got 0"):
        changed_texts(["a"], 0)
