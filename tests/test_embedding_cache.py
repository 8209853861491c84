"""EmbeddingCache.clear and release: what each forgets (the service's bounded query cache calls clear)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matching.retrieval.embeddings import EmbeddingCache

KEYS = ["a" * 16, "b" * 16]
VECS = np.eye(2, dtype=np.float32)


def test_clear_empties_a_memory_cache_and_a_persistent_one_reloads(tmp_path: Path) -> None:
    memory = EmbeddingCache(None)
    memory.store("enc", "query", KEYS, VECS)
    memory.release()  # nothing on disk to reload from: release keeps the vectors
    assert memory.size("enc", "query") == 2
    memory.clear()
    assert memory.size("enc", "query") == 0
    disk = EmbeddingCache(tmp_path)
    disk.store("enc", "passage", KEYS, VECS)
    disk.clear()
    found, vectors = disk.lookup("enc", "passage", KEYS[::-1])
    assert found.all() and np.array_equal(vectors, VECS[::-1])
