"""A tiny deterministic :class:`~matching.retrieval.encoder.encoder.TextEncoder` for fast tests.

Character uni- and bigrams hashed (CRC32) into a small vector, L2-normalised: texts sharing words
get higher cosines, with no model to load. A test double only; one test uses the real encoder.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


class HashingEncoder:
    """Character n-gram hashing encoder (implements the TextEncoder protocol)."""

    thread_safe = True  # pure NumPy: the service may share one instance between its encoder sessions

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.encoder_id = f"test-char-ngram-{dimension}"
        self.calls = 0  # texts encoded so far (lets cache tests count re-encoding)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings")
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            grams = list(text) + [text[j:j + 2] for j in range(len(text) - 1)]
            for g in grams:
                h = zlib.crc32(g.encode("utf-8"))
                out[i, h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
            out[i, 0] += 1e-3  # never all-zero
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                       ) -> np.ndarray:
        """Embed queries (same as passages for this double)."""
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                        ) -> np.ndarray:
        """Embed passages."""
        return self._encode(texts)
