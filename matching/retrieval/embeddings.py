"""Profile and mandate embeddings with a content-addressed cache.

Texts are keyed by ``sha256(text)`` together with the encoder's ``encoder_id`` and the kind of
embedding (``"query"`` or ``"passage"``), so re-embedding a market only encodes texts that changed.

:class:`EmbeddingCache` keeps one table per (encoder, kind). On disk a table is a folder of
*shards*: each write appends a new ``<name>.npy`` (vectors) and ``<name>.keys`` (one hex digest per
line) pair, each written to a temporary file and renamed into place, keys last, so a reader never
sees a half-written shard and concurrent writers never overwrite each other. :meth:`compact` merges
shards into one. Without a folder the cache lives in memory only.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from matching.retrieval.encoder.encoder import TextEncoder

logger = logging.getLogger(__name__)

Kind = Literal["query", "passage"]
KINDS: tuple[str, ...] = ("query", "passage")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def text_key(text: str) -> str:
    """The cache key of a text: the hex sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Table:
    """Vectors of one (encoder, kind): key → row, rows stored in appended blocks."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        fresh = [i for i, k in enumerate(keys) if k not in self.rows]
        if not fresh:
            return
        start = len(self.rows)
        for j, i in enumerate(fresh):
            self.rows[keys[i]] = start + j
        self.blocks.append(np.ascontiguousarray(vectors[fresh], dtype=np.float32))
        self._matrix = None

    def matrix(self) -> np.ndarray:
        if self._matrix is None:
            self._matrix = np.concatenate(self.blocks) if len(self.blocks) != 1 else self.blocks[0]
            self.blocks = [self._matrix]
        return self._matrix


class EmbeddingCache:
    """Embeddings keyed by text hash, encoder id and kind; persistent when ``folder`` is given.

    Args:
        folder: where tables are kept (``<folder>/<encoder_id>/<kind>/``); ``None`` keeps them in
            memory for the life of the object.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._tables: dict[tuple[str, str], _Table] = {}

    def __repr__(self) -> str:
        return f"EmbeddingCache({self.folder!s})" if self.folder else "EmbeddingCache(in memory)"

    def _dir(self, encoder_id: str, kind: str) -> Path:
        assert self.folder is not None
        return self.folder / _SAFE.sub("_", encoder_id) / kind

    def _table(self, encoder_id: str, kind: str) -> _Table:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        key = (encoder_id, kind)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = _Table()
            if self.folder is not None:
                self._load(table, self._dir(encoder_id, kind))
        return table

    @staticmethod
    def _load(table: _Table, folder: Path) -> None:
        if not folder.is_dir():
            return
        for keys_file in sorted(folder.glob("*.keys")):
            vec_file = keys_file.with_suffix(".npy")
            try:
                keys = keys_file.read_text(encoding="ascii").split()
                vectors = np.load(vec_file)
            except (OSError, ValueError) as exc:  # a damaged shard costs re-encoding, not a failure
                logger.warning("skipping unreadable embedding shard %s: %s", keys_file, exc)
                continue
            if vectors.ndim != 2 or len(vectors) != len(keys):
                logger.warning("skipping inconsistent embedding shard %s", keys_file)
                continue
            table.add(keys, vectors)
        logger.debug("loaded %d cached embeddings from %s", len(table.rows), folder)

    def lookup(self, encoder_id: str, kind: Kind, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cached vectors of ``keys``: ``(found mask, vectors of the found keys in order)``."""
        table = self._table(encoder_id, kind)
        rows = np.array([table.rows.get(k, -1) for k in keys], dtype=np.int64)
        found = rows >= 0
        if not found.any():
            return found, np.zeros((0, 0), dtype=np.float32)
        return found, table.matrix()[rows[found]]

    def store(self, encoder_id: str, kind: Kind, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors (keys already cached are ignored); appends one shard on disk."""
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys but {len(vectors)} vectors")
        table = self._table(encoder_id, kind)
        fresh = [i for i, k in enumerate(keys) if k not in table.rows]
        if not fresh:
            return
        vecs = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[fresh])
        new_keys = [keys[i] for i in fresh]
        table.add(new_keys, vecs)
        if self.folder is not None:
            self._write_shard(self._dir(encoder_id, kind), new_keys, vecs)

    def release(self) -> None:
        """Forget the tables loaded in memory if they are kept on disk too (they reload when next used)."""
        if self.folder is not None:
            self.clear()

    def clear(self) -> None:
        """Forget every table held in memory: an in-memory cache starts empty, a persistent one reloads
        from disk when next used (a bounded cache calls this when full)."""
        self._tables.clear()

    def size(self, encoder_id: str, kind: Kind) -> int:
        """Number of cached vectors of one encoder and kind."""
        return len(self._table(encoder_id, kind).rows)

    def compact(self, encoder_id: str, kind: Kind) -> None:
        """Merge the shards of one table into a single shard (no-op in memory)."""
        if self.folder is None:
            return
        table = self._table(encoder_id, kind)
        folder = self._dir(encoder_id, kind)
        old = sorted(folder.glob("*.keys"))
        if len(old) <= 1:
            return
        keys = sorted(table.rows, key=table.rows.__getitem__)
        self._write_shard(folder, keys, table.matrix())
        for keys_file in old:  # keys first: a shard without keys is ignored by readers
            keys_file.unlink(missing_ok=True)
            keys_file.with_suffix(".npy").unlink(missing_ok=True)

    @staticmethod
    def _write_shard(folder: Path, keys: Sequence[str], vectors: np.ndarray) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        tmp_vec = folder / f".{name}.npy.tmp"
        tmp_keys = folder / f".{name}.keys.tmp"
        with open(tmp_vec, "wb") as fh:
            np.save(fh, vectors)
        tmp_keys.write_text("\n".join(keys) + "\n", encoding="ascii")
        os.replace(tmp_vec, folder / f"{name}.npy")
        os.replace(tmp_keys, folder / f"{name}.keys")  # last: the shard becomes visible


def embed(
    encoder: TextEncoder,
    texts: Sequence[str],
    *,
    kind: Kind,
    cache: EmbeddingCache | None = None,
    batch_size: int = 64,
    show_progress: bool = False,
) -> np.ndarray:
    """Embed texts, encoding only those the cache lacks (each distinct text once).

    Args:
        encoder: any :class:`~matching.retrieval.encoder.encoder.TextEncoder`.
        texts: the texts, in the order of the rows wanted.
        kind: ``"query"`` (search queries, mandates) or ``"passage"`` (profiles, listings).
        cache: where to look up and store vectors; ``None`` encodes everything.
        batch_size: texts per encoder call.
        show_progress: show a tqdm bar over the texts to encode.

    Returns:
        float32 array of shape ``(len(texts), encoder.dimension)``, rows L2-normalised.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    dim = int(encoder.dimension)
    keys = [text_key(t) for t in texts]
    unique: dict[str, int] = {}
    for i, k in enumerate(keys):
        unique.setdefault(k, i)
    ukeys = list(unique)
    uvecs = np.zeros((len(ukeys), dim), dtype=np.float32)
    missing = np.ones(len(ukeys), dtype=bool)
    if cache is not None and ukeys:
        found, vecs = cache.lookup(encoder.encoder_id, kind, ukeys)
        if found.any():
            if vecs.shape[1] != dim:
                raise ValueError(f"cached vectors of encoder {encoder.encoder_id!r} have dimension "
                                 f"{vecs.shape[1]}, the encoder gives {dim}: clear the cache folder")
            uvecs[found] = vecs
            missing = ~found
    todo = np.flatnonzero(missing)
    if len(todo):
        todo_texts = [texts[unique[ukeys[i]]] for i in todo]
        uvecs[todo] = _encode(encoder, todo_texts, kind, batch_size, show_progress)
        if cache is not None:
            cache.store(encoder.encoder_id, kind, [ukeys[i] for i in todo], uvecs[todo])
    logger.info("embedded %d texts (%s): %d distinct, %d encoded, %d from cache",
                len(texts), kind, len(ukeys), len(todo), len(ukeys) - len(todo))
    pos = {k: j for j, k in enumerate(ukeys)}
    return uvecs[[pos[k] for k in keys]] if keys else np.zeros((0, dim), dtype=np.float32)


def _encode(encoder: TextEncoder, texts: list[str], kind: str, batch_size: int, show_progress: bool
            ) -> np.ndarray:
    """Encode in chunks of several batches so a long run can show one progress bar."""
    fn = encoder.encode_queries if kind == "query" else encoder.encode_passages
    chunk = max(batch_size, 1) * 8
    if not show_progress or len(texts) <= chunk:
        return np.asarray(fn(texts, batch_size=batch_size, show_progress=False), dtype=np.float32)
    from tqdm.auto import tqdm

    parts = []
    with tqdm(total=len(texts), desc=f"embedding {kind}s", unit="text") as bar:
        for start in range(0, len(texts), chunk):
            part = texts[start:start + chunk]
            parts.append(np.asarray(fn(part, batch_size=batch_size, show_progress=False), dtype=np.float32))
            bar.update(len(part))
    return np.concatenate(parts)
