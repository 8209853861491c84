"""A FAISS vector index with an explicit id map and allow-list search.

* Rows are FAISS ids ``0..n-1``; :class:`~matching.retrieval.idmap.IdMap` maps external ids
  (database ids) to rows and back and refuses use before it is built.
* Below ``exact_threshold`` vectors the index is exact (``IndexFlatIP``); above it, approximate:
  IVF (``IndexIVFFlat``; from ``sq8_threshold`` (50,000) vectors ``IndexIVFScalarQuantizer`` with 8-bit
  codes, a quarter of the memory) by default, or HNSW (``approximate="hnsw"``). Vectors are
  L2-normalised, so inner product = cosine. IVF builds in seconds where HNSW takes minutes, and
  reaches recall@100 ≥ 0.95 against exact search with ``nprobe`` lists (``bench.scale``).
* ``search(..., allow=ids)`` and ``search_rows(..., allow=mask)`` apply hard constraints *inside*
  the search: a small allow-list is scanned exactly with NumPy, a large one goes to FAISS with an
  ``IDSelectorBitmap``.
* The index keeps the caller's float32 array (no copy): the matcher and the index share one copy
  of the vectors.
* ``remove`` marks rows as deleted (HNSW cannot delete); they are never returned, and
  :meth:`VectorIndex.compact` rebuilds without them.
* ``save``/``load`` write the FAISS file, the id map and vectors, and a manifest (encoder id,
  dimension, count, kind) that is checked on load.

Results are always ``(ids, scores)`` arrays, best first; batch search equals single search.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from matching.errors import ArtifactError
from matching.retrieval.idmap import IdMap

logger = logging.getLogger(__name__)
MANIFEST = "index_manifest.json"
FORMAT_VERSION = 1
#: HNSW: allow-lists up to this fraction of the index are scanned exactly (faster and recall 1.0).
EXACT_ALLOW_FRACTION = 0.05
#: Allow-lists up to this many rows are scanned exactly whatever the index (IVF and HNSW alike).
EXACT_ALLOW_ROWS = 1_000
#: An IVF search that found too few allowed vectors is redone exactly up to this many allowed rows.
EXACT_FALLBACK_ROWS = 50_000
BUILD_THREADS = max(1, faiss.omp_get_max_threads())


@dataclass(frozen=True)
class IndexConfig:
    """How to build an index."""

    exact_threshold: int = 20_000
    approximate: str = "ivf"  # "ivf" or "hnsw"
    hnsw_m: int = 48  # with ef_search 512: recall@100 0.969 at 100k profiles (bench.index_recall)
    ef_construction: int = 80
    ef_search: int = 512
    ivf_lists_per_sqrt: float = 4.0  # nlist = 4·√n (1,264 lists at 100k), at most ivf_max_lists (2,048 at 1M)
    ivf_max_lists: int = 2048
    nprobe_fraction: float = 0.08  # share of the lists scanned per query: recall@100 0.965 at 100k (bench.scale)
    nprobe_min: int = 16
    mask_nprobe_factor: float = 2.0  # a masked search scans up to this many times more lists
    sq8_threshold: int = 50_000  # from here IVF keeps 8-bit codes (384 B per vector, not 1,536), re-scored exactly
    threads: int = 1


class VectorIndex:
    """Cosine-similarity search over L2-normalised vectors with external ids.

    Args:
        dimension: vector dimension.
        encoder_id: the encoder that made the vectors (checked on load and on query use).
        config: build and search parameters.
    """

    def __init__(self, dimension: int, encoder_id: str, config: IndexConfig | None = None) -> None:
        self.dimension = dimension
        self.encoder_id = encoder_id
        self.config = config or IndexConfig()
        self.id_map = IdMap()
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        self._deleted = np.zeros(0, dtype=bool)
        self._faiss: faiss.Index | None = None
        self.kind = "flat"

    # -- building --------------------------------------------------------------------------
    def build(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """(Re)build from scratch: exact below the threshold, HNSW above it."""
        vecs = self._check(vectors)
        if len(vecs) != len(np.asarray(ids)):
            raise ValueError(f"{len(np.asarray(ids))} ids but {len(vecs)} vectors")
        self.id_map.assign(ids)
        self._vectors = vecs  # shared with the caller (not copied): do not modify it afterwards
        self._deleted = np.zeros(len(vecs), dtype=bool)
        self.kind = self._kind_for(len(vecs))
        self._faiss = self._new_faiss()
        if len(vecs):
            with _threads(BUILD_THREADS):  # an offline step: use every core
                self._train(vecs)
                self._faiss.add(vecs)
        logger.info("built %s index of %d vectors (dim %d)", self.kind, len(vecs), self.dimension)
        return self

    def add(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Add new vectors (ids must be new; use :meth:`update` for changed ones)."""
        vecs = self._check(vectors)
        if self._faiss is None:
            self.build(ids, vecs)
            return
        self.id_map.extend(ids)
        self._vectors = np.vstack([self._vectors, vecs])
        self._deleted = np.concatenate([self._deleted, np.zeros(len(vecs), dtype=bool)])
        with _threads(self.config.threads):
            self._faiss.add(vecs)

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Mark ids as removed; return how many were present."""
        rows = self.id_map.rows_of(ids)
        fresh = rows[~self._deleted[rows]]
        self._deleted[fresh] = True
        return len(fresh)

    def update(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Replace the vectors of existing ids (changed profiles): rebuilds the structure."""
        vecs = self._check(vectors)
        rows = self.id_map.rows_of(ids, strict=True)
        self._vectors = self._vectors.copy()  # the caller's array is shared: never write into it
        self._vectors[rows] = vecs
        self._deleted[rows] = False
        self._faiss = self._new_faiss()
        with _threads(BUILD_THREADS):
            self._train(self._vectors)
            self._faiss.add(self._vectors)

    def compact(self) -> None:
        """Rebuild without removed rows."""
        keep = ~self._deleted
        self.build(self.id_map.ids()[keep], self._vectors[keep])

    def __len__(self) -> int:
        return int((~self._deleted).sum())

    # -- searching -------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, *, allow: Sequence[int] | np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` external ids and cosine scores per query, optionally restricted to ``allow``.

        Returns ``(ids, scores)`` of shape ``(n_queries, k)``; missing slots hold id ``-1`` and
        score ``-inf``.
        """
        n = len(self.id_map)
        if allow is None or n == 0:
            return self.search_rows(queries, k)
        mask = np.zeros(n, dtype=bool)
        mask[self.id_map.rows_of(allow)] = True
        return self.search_rows(queries, k, allow=mask)

    def search_rows(self, queries: np.ndarray, k: int, *, allow: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` with the allow-list as a bool mask over rows (ids in build order): no id lookups."""
        q = self._check(np.atleast_2d(queries))
        n = len(self.id_map)
        out_ids = np.full((len(q), k), -1, dtype=np.int64)
        out_scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        if n == 0 or k <= 0:
            return out_ids, out_scores
        if allow is None:
            mask = ~self._deleted if self._deleted.any() else None
            return self._faiss_search(q, k, mask, out_ids, out_scores)
        if len(allow) != n:
            raise ValueError(f"allow mask has {len(allow)} rows, the index {n}")
        mask = allow & ~self._deleted if self._deleted.any() else allow
        n_allowed = int(np.count_nonzero(mask))
        if n_allowed == 0:
            return out_ids, out_scores
        if self.kind == "flat" or n_allowed <= max(EXACT_ALLOW_ROWS, k) or (
                self.kind == "hnsw" and n_allowed <= EXACT_ALLOW_FRACTION * n):
            return self._exact_rows(q, k, np.flatnonzero(mask), out_ids, out_scores)
        # IVF with a selective mask: scan more lists, so that about as many *allowed* vectors are
        # compared as without a mask (nprobe / allowed fraction, at most mask_nprobe_factor times more)
        nprobe = None
        if self.kind != "hnsw":
            factor = min(n / n_allowed, self.config.mask_nprobe_factor)
            nprobe = min(self._faiss.nlist, int(np.ceil(self.nprobe * factor)))
        ids, scores = self._faiss_search(q, k, None if n_allowed == n else mask, out_ids, out_scores, nprobe)
        if self.kind != "hnsw" and (ids[:, k // 2] < 0).any() and n_allowed <= EXACT_FALLBACK_ROWS:
            # IVF found under half of k allowed vectors in its lists: scan the allowed rows exactly
            return self._exact_rows(q, k, np.flatnonzero(mask), np.full_like(out_ids, -1),
                                    np.full_like(out_scores, -np.inf))
        return ids, scores

    def exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute-force NumPy search over every live row (the baseline for recall checks)."""
        q = self._check(np.atleast_2d(queries))
        rows = np.flatnonzero(~self._deleted)
        out_ids = np.full((len(q), k), -1, dtype=np.int64)
        out_scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        return self._exact_rows(q, k, rows, out_ids, out_scores)

    def vectors_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Stored vectors of external ids (strict)."""
        return self._vectors[self.id_map.rows_of(ids, strict=True)]

    def _exact_rows(self, q: np.ndarray, k: int, rows: np.ndarray, out_ids: np.ndarray,
                    out_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mat = self._vectors if len(rows) == len(self._vectors) else self._vectors[rows]  # no copy of everything
        sims = q @ mat.astype(np.float32, copy=False).T
        kk = min(k, len(rows))
        if kk < len(rows):
            top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        else:
            top = np.tile(np.arange(len(rows)), (len(q), 1))
        for i in range(len(q)):
            cand = top[i]
            order = cand[np.lexsort((rows[cand], -sims[i, cand]))]  # ties broken by row: deterministic
            out_ids[i, :kk] = self.id_map.ids()[rows[order]]
            out_scores[i, :kk] = sims[i, order]
        return out_ids, out_scores

    def _faiss_search(self, q: np.ndarray, k: int, mask: np.ndarray | None, out_ids: np.ndarray,
                      out_scores: np.ndarray, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        assert self._faiss is not None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(self.config.ef_search, k)
        elif self.kind.startswith("ivf"):
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe or self.nprobe
        else:
            params = faiss.SearchParameters()
        bitmap = None
        if mask is not None:
            bitmap = np.packbits(mask, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        refine = self.kind == "ivf_sq8"  # 8-bit codes rank approximately: re-score 2k exactly, keep k
        with _threads(self.config.threads):
            scores, rows = self._faiss.search(q, 2 * k if refine else k, params=params)
        del bitmap  # the selector read it during search; keep it alive until here
        if refine:
            rows, scores = self._refine(q, rows, k)
        valid = rows >= 0
        ids = self.id_map.ids()
        out_ids[valid] = ids[rows[valid]]
        out_scores[valid] = scores[valid]
        return out_ids, out_scores

    def _refine(self, q: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of the candidate rows from the stored vectors; best ``k`` per query (ties by row)."""
        out_rows = np.full((len(q), k), -1, dtype=np.int64)
        out_scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        for i in range(len(q)):
            cand = rows[i][rows[i] >= 0]
            if len(cand) == 0:
                continue
            sims = self._vectors[cand].astype(np.float32, copy=False) @ q[i]
            order = np.lexsort((cand, -sims))[:k]
            out_rows[i, :len(order)], out_scores[i, :len(order)] = cand[order], sims[order]
        return out_rows, out_scores

    # -- persistence -----------------------------------------------------------------------
    def save(self, folder: Path, *, vectors: bool = True) -> None:
        """Write the index, its ids, vectors (unless ``vectors=False``: the loader then supplies them) and manifest."""
        folder.mkdir(parents=True, exist_ok=True)
        assert self._faiss is not None, "build the index before saving it"
        faiss.write_index(self._faiss, str(folder / "index.faiss"))
        np.save(folder / "ids.npy", self.id_map.ids())
        if vectors:
            np.save(folder / "vectors.npy", self._vectors)
        np.save(folder / "deleted.npy", self._deleted)
        manifest = {"format": FORMAT_VERSION, "kind": self.kind, "dimension": self.dimension,
                    "encoder_id": self.encoder_id, "count": int(len(self.id_map)), "live": len(self),
                    "faiss_version": faiss.__version__,
                    "config": {k: getattr(self.config, k) for k in IndexConfig.__dataclass_fields__}}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, *, encoder_id: str | None = None, threads: int = 1,
             vectors: np.ndarray | None = None) -> VectorIndex:
        """Load a saved index, checking its manifest (and the encoder, when given).

        Raises:
            ArtifactError: missing files, a count or dimension mismatch, or another encoder.
        """
        path = folder / MANIFEST
        if not path.exists():
            raise ArtifactError(f"no index at {folder} ({MANIFEST} missing): rebuild the index")
        m = json.loads(path.read_text(encoding="utf-8"))
        if m.get("format") != FORMAT_VERSION:
            raise ArtifactError(f"index at {folder} has format {m.get('format')}, code expects {FORMAT_VERSION}: "
                                "rebuild the index")
        if encoder_id is not None and m["encoder_id"] != encoder_id:
            raise ArtifactError(f"index at {folder} was built with encoder {m['encoder_id']!r} but the active "
                                f"encoder is {encoder_id!r}: rebuild the index with the active encoder")
        config = IndexConfig(**{**m.get("config", {}), "threads": threads})
        self = cls(int(m["dimension"]), m["encoder_id"], config)
        try:
            ids = np.load(folder / "ids.npy")
            self._vectors = np.load(folder / "vectors.npy") if vectors is None else self._check(vectors)
            self._deleted = np.load(folder / "deleted.npy")
            self._faiss = faiss.read_index(str(folder / "index.faiss"))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ArtifactError(f"index at {folder} is unreadable ({exc}): rebuild the index") from exc
        if not (len(ids) == len(self._vectors) == self._faiss.ntotal == m["count"]) or \
                self._vectors.shape[1] != self.dimension or self._faiss.d != self.dimension:
            raise ArtifactError(f"index at {folder} is inconsistent with its manifest (count or dimension): "
                                "rebuild the index")
        self.id_map.assign(ids)
        self.kind = m["kind"]
        return self

    # -- internals -------------------------------------------------------------------------
    @property
    def nprobe(self) -> int:
        """IVF lists scanned per (unmasked) query: ``nprobe_fraction`` of the lists, at least ``nprobe_min``."""
        nlist = int(getattr(self._faiss, "nlist", 1))
        return min(nlist, max(self.config.nprobe_min, int(np.ceil(self.config.nprobe_fraction * nlist))))

    def _kind_for(self, n: int) -> str:
        if n < self.config.exact_threshold:
            return "flat"
        if self.config.approximate == "hnsw":
            return "hnsw"
        if self.config.approximate != "ivf":
            raise ValueError(f"approximate must be 'ivf' or 'hnsw', got {self.config.approximate!r}")
        return "ivf_sq8" if n >= self.config.sq8_threshold else "ivf"

    def _nlist(self, n: int) -> int:
        lists = min(int(self.config.ivf_lists_per_sqrt * np.sqrt(max(n, 1))), self.config.ivf_max_lists)
        return max(1, min(lists, n // 39 or 1))

    def _train(self, vecs: np.ndarray) -> None:
        """IVF learns its coarse centroids (and 8-bit ranges) on a seeded sample of at most 64 vectors per list."""
        assert self._faiss is not None
        if self._faiss.is_trained:
            return
        nlist = self._faiss.nlist
        sample = vecs
        if len(vecs) > 64 * nlist:
            pick = np.random.default_rng(0).choice(len(vecs), 64 * nlist, replace=False)
            sample = vecs[np.sort(pick)]
        self._faiss.cp.niter = 12  # k-means rounds (FAISS's default 25 doubles the build for no recall here)
        self._faiss.train(np.ascontiguousarray(sample, dtype=np.float32))

    def _new_faiss(self) -> faiss.Index:
        if self.kind == "flat":
            return faiss.IndexFlatIP(self.dimension)
        if self.kind in ("ivf", "ivf_sq8"):
            quantizer = faiss.IndexFlatIP(self.dimension)
            nlist = self._nlist(len(self._vectors))
            if self.kind == "ivf":
                index = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            else:
                index = faiss.IndexIVFScalarQuantizer(quantizer, self.dimension, nlist,
                                                      faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
            return index
        index = faiss.IndexHNSWFlat(self.dimension, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.config.ef_construction
        index.hnsw.efSearch = self.config.ef_search
        return index

    def _check(self, vectors: np.ndarray) -> np.ndarray:
        arr = np.ascontiguousarray(vectors, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != self.dimension:
            raise ValueError(f"vectors must have shape (n, {self.dimension}), got {arr.shape}")
        return arr


class _threads:
    """Temporarily set FAISS's OpenMP thread count (one inside request paths)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.before = 1

    def __enter__(self) -> None:
        self.before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        faiss.omp_set_num_threads(self.before)
