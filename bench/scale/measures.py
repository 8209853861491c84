"""Two throughput measures, each beside a naive baseline measured in the same run.

:func:`bulk_import` times the user-facing import path (``capconnect import enterprises FILE``, i.e.
:func:`store.importing.import_file`: read with encoding detection → validate → COPY and
upsert) on a generated CSV, once UTF-8 and once GB18030, each into a fresh scratch database, and
checks that every row landed. The baseline inserts the same enterprises one ``INSERT`` per row with
a commit each, as a naive importer would.

:func:`encoder_throughput` times the real encoder through :func:`matching.retrieval.embeddings.embed`: a full
build on an empty cache, then an incremental re-embedding after a share of the texts changed (only
those are encoded). The baseline is re-embedding everything without the cache.

Both return a flat dict for the benchmark table and print nothing; ``progress`` (optional) receives
one line per step.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from matching.domain.records import Enterprise
from matching.ingest.export import export_records
from matching.retrieval.embeddings import EmbeddingCache, embed
from matching.retrieval.encoder.encoder import TextEncoder
from matching.synth.generator import generate_market
from store.database import Database
from store.importing import import_file
from store.scratch import scratch_database

#: Called with one line of text per step of a measure.
Report = Callable[[str], None]

#: Import target of the performance issue.
TARGET_ROWS_PER_S = 2000.0

#: The sentence appended to a profile to make it "changed" (as a yearly update would).
CHANGE = "2025年新增专利3项。"

# Columns of ``enterprises`` the naive baseline fills, in the order of its INSERT.
_ENT_FIELDS = (
    "credit_code",
    "source",
    "external_id",
    "name",
    "short_name",
    "name_en",
    "district_code",
    "province",
    "country",
    "city",
    "industry_code",
    "industry_raw",
    "tier",
    "boards",
    "qualifications",
    "listing_target",
    "description",
    "founded_on",
    "registered_capital",
    "disclosure",
    "status",
    "excluded_investors",
    "excluded_investor_types",
    "created_at",
)
_FIN_FIELDS = ("year", "revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents")


def _say(progress: Report | None, line: str) -> None:
    if progress is not None:
        progress(line)


# --- bulk import ---------------------------------------------------------------------------------------


def bulk_import(
    base_url: str,
    n_rows: int = 20000,
    *,
    seed: int = 3,
    baseline_rows: int = 2000,
    progress: Report | None = None,
) -> dict[str, object]:
    """Enterprises per second through the real import path, UTF-8 and GB18030, beside row-by-row inserts.

    Args:
        base_url: URL of any database on a server whose user may ``CREATE DATABASE`` (each import
            goes into its own scratch database, dropped afterwards).
        n_rows: enterprises to generate and import (the CSV has one line per financial year).
        seed: market seed.
        baseline_rows: how many of the same enterprises the naive baseline inserts.
        progress: receives one line per step.

    Returns:
        ``rows`` (enterprises), ``csv_lines``, ``seconds`` and ``rows_per_s`` (UTF-8),
        ``gb18030_seconds`` and ``gb18030_rows_per_s``, ``baseline_rows`` and
        ``baseline_rows_per_s``, ``speedup`` (UTF-8 over baseline), ``target_rows_per_s``,
        ``meets_target`` and ``verified`` (every import committed with no problem, detected the
        right encoding, and left exactly the generated enterprises and financial years in the table).
        The baseline reads no file and validates nothing, so the speedup is a lower bound.
    """
    market = generate_market(n_rows, max(10, n_rows * 12 // 100), months=1, seed=seed)
    enterprises = market.enterprises
    n = len(enterprises)
    n_fin = sum(len(e.financials) for e in enterprises)
    out: dict[str, object] = {"rows": n}
    verified = True
    with tempfile.TemporaryDirectory(prefix="capconnect-bench-import-") as tmp:
        utf8 = Path(tmp) / "enterprises-utf8.csv"
        lines = export_records(enterprises, utf8, entity="enterprises")
        gb = Path(tmp) / "enterprises-gb18030.csv"
        # Excel on Chinese Windows saves GB18030 without a BOM: the importer must detect it.
        gb.write_bytes(utf8.read_text(encoding="utf-8-sig").encode("gb18030"))
        out["csv_lines"] = lines
        for label, path, encoding in (("utf-8", utf8, "utf-8-sig"), ("gb18030", gb, "gb18030")):
            seconds, ok = _timed_import(base_url, path, encoding, n, n_fin)
            verified = verified and ok
            prefix = "" if label == "utf-8" else "gb18030_"
            out[f"{prefix}seconds"] = round(seconds, 3)
            out[f"{prefix}rows_per_s"] = round(n / seconds, 1)
            _say(
                progress,
                f"import {label}: {n} enterprises ({lines} lines) in {seconds:.2f} s, "
                f"{n / seconds:,.0f}/s, verified={ok}",
            )
    sample = enterprises[:baseline_rows]
    with scratch_database(base_url) as db:
        seconds = _naive_insert(db, sample)
        landed = _count(db, "enterprises")
    verified = verified and landed == len(sample)
    base_rate = len(sample) / seconds
    _say(progress, f"baseline row by row: {len(sample)} enterprises in {seconds:.2f} s, {base_rate:,.0f}/s")
    rate = float(out["rows_per_s"])  # type: ignore[arg-type]
    out.update(
        baseline_rows=len(sample),
        baseline_rows_per_s=round(base_rate, 1),
        speedup=round(rate / base_rate, 1),
        target_rows_per_s=TARGET_ROWS_PER_S,
        meets_target=min(rate, float(out["gb18030_rows_per_s"])) >= TARGET_ROWS_PER_S,  # type: ignore[arg-type]
        verified=verified,
    )
    return out


def _timed_import(base_url: str, path: Path, encoding: str, n: int, n_fin: int) -> tuple[float, bool]:
    """Seconds of one :func:`import_file` into a fresh database, and whether everything landed."""
    with scratch_database(base_url) as db:
        start = time.perf_counter()
        report = import_file(db, "enterprises", path)
        seconds = time.perf_counter() - start
        ok = (
            report.ok
            and report.encoding == encoding
            and _count(db, "enterprises") == n
            and _count(db, "enterprise_financials") == n_fin
        )
    return seconds, ok


def _count(db: Database, table: str) -> int:
    with db.connect() as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _naive_insert(db: Database, enterprises: Sequence[Enterprise]) -> float:
    """Seconds to insert ``enterprises`` one at a time: one INSERT per enterprise and per financial
    year, one commit per enterprise (what a straightforward importer does)."""
    ent_sql = (
        f"INSERT INTO enterprises ({', '.join(_ENT_FIELDS)}) "
        f"VALUES ({', '.join(['%s'] * len(_ENT_FIELDS))}) RETURNING id"
    )
    fin_sql = (
        f"INSERT INTO enterprise_financials (enterprise_id, {', '.join(_FIN_FIELDS)}) "
        f"VALUES (%s, {', '.join(['%s'] * len(_FIN_FIELDS))})"
    )
    with db.connect() as conn:
        start = time.perf_counter()
        for e in enterprises:
            values = [getattr(e, f) for f in _ENT_FIELDS]
            row = conn.execute(ent_sql, values).fetchone()
            assert row is not None
            for f in e.financials:
                conn.execute(fin_sql, [row[0], *(getattr(f, name) for name in _FIN_FIELDS)])
            conn.commit()
        return time.perf_counter() - start


# --- encoder -------------------------------------------------------------------------------------------


class _Counting:
    """A :class:`TextEncoder` that forwards to another and counts the texts it encodes."""

    def __init__(self, inner: TextEncoder) -> None:
        self.inner = inner
        self.encoder_id = inner.encoder_id
        self.dimension = inner.dimension
        self.encoded = 0

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        return self.inner.encode_queries(texts, batch_size=batch_size, show_progress=show_progress)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.encoded += len(texts)
        return self.inner.encode_passages(texts, batch_size=batch_size, show_progress=show_progress)


def profile_texts(n: int = 512, *, seed: int = 3) -> list[str]:
    """``n`` enterprise profile texts of a generated market, as the service embeds them."""
    from matching.snapshot.core import build_snapshot

    market = generate_market(max(n, 2000), max(10, max(n, 2000) * 12 // 100), months=1, seed=seed)
    snapshot = build_snapshot(market.enterprises, market.investors, market.mandates, market.needs)
    return list(snapshot.ent_text[:n])


def changed_texts(texts: Sequence[str], share: float) -> tuple[list[str], list[int]]:
    """``texts`` with ``share`` of them (evenly spread, at least one) given one more sentence."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"changed_share must be in (0, 1], got {share}")
    k = max(1, round(len(texts) * share))
    picked = sorted({int(i) for i in np.linspace(0, len(texts) - 1, k)})
    new = list(texts)
    for i in picked:
        new[i] = f"{texts[i]}{CHANGE}"
    return new, picked


def encoder_throughput(
    encoder: TextEncoder,
    texts: list[str],
    *,
    changed_share: float = 0.05,
    batch_size: int = 64,
    progress: Report | None = None,
) -> dict[str, object]:
    """Texts per second of a full embedding build and of an incremental re-embedding through the cache.

    Args:
        encoder: the encoder to measure (the real one: ``load_encoder(ensure_default_encoder(...))``).
        texts: the texts (e.g. :func:`profile_texts`); the cache starts empty.
        changed_share: share of the texts changed before the re-embedding.
        batch_size: texts per encoder call.
        progress: receives one line per step.

    Returns:
        ``texts``, ``full_seconds``, ``full_texts_per_s``, ``changed``, ``incremental_seconds``,
        ``incremental_texts_per_s`` (over the whole list), ``incremental_encoded``,
        ``baseline_seconds`` (re-embedding everything without the cache: the full build's rate
        over the same list) and ``incremental_speedup``.

    Raises:
        ValueError: for an empty list or a share outside (0, 1].
        AssertionError: the re-embedding encoded other than the changed texts.
    """
    if not texts:
        raise ValueError("texts must not be empty")
    new_texts, picked = changed_texts(texts, changed_share)
    # Distinct changed texts that were not already in the list: exactly what the cache lacks.
    changed = len({new_texts[i] for i in picked} - set(texts))
    counting = _Counting(encoder)
    encoder.encode_passages(texts[: min(8, len(texts))], batch_size=batch_size)  # warm-up, not timed
    with tempfile.TemporaryDirectory(prefix="capconnect-bench-embed-") as tmp:
        cache = EmbeddingCache(Path(tmp))
        start = time.perf_counter()
        embed(counting, texts, kind="passage", cache=cache, batch_size=batch_size)
        full_s = time.perf_counter() - start
        full_encoded = counting.encoded
        _say(progress, f"full build: {full_encoded} texts encoded in {full_s:.2f} s, {full_encoded / full_s:,.1f}/s")
        counting.encoded = 0
        start = time.perf_counter()
        embed(counting, new_texts, kind="passage", cache=cache, batch_size=batch_size)
        inc_s = time.perf_counter() - start
    assert counting.encoded == changed, f"re-embedding encoded {counting.encoded} texts, {changed} changed"
    full_rate = full_encoded / full_s
    baseline_s = len(new_texts) / full_rate
    _say(
        progress,
        f"incremental: {counting.encoded} of {len(new_texts)} encoded in {inc_s:.2f} s "
        f"(baseline without cache {baseline_s:.1f} s)",
    )
    return {
        "texts": len(texts),
        "full_seconds": round(full_s, 3),
        "full_texts_per_s": round(full_rate, 1),
        "changed": changed,
        "incremental_seconds": round(inc_s, 3),
        "incremental_texts_per_s": round(len(new_texts) / inc_s, 1),
        "incremental_encoded": counting.encoded,
        "baseline_seconds": round(baseline_s, 3),
        "incremental_speedup": round(baseline_s / inc_s, 1),
    }
