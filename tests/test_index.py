"""The FAISS wrapper: id map, exact vs HNSW, allow-lists, removal, batch = single, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from matching.errors import ArtifactError
from matching.retrieval.idmap import IdMap
from matching.retrieval.index import IndexConfig, VectorIndex


def _unit(rng: np.random.Generator, n: int, d: int = 32) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


CONFIGS = {
    "flat": IndexConfig(exact_threshold=10_000),
    "hnsw": IndexConfig(exact_threshold=100, approximate="hnsw"),
    "ivf": IndexConfig(exact_threshold=100, nprobe_fraction=0.3),
    "ivf_sq8": IndexConfig(exact_threshold=100, nprobe_fraction=0.3, sq8_threshold=1000),
}


@pytest.fixture(params=list(CONFIGS))
def built(request: pytest.FixtureRequest) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    vecs = _unit(rng, 3000)
    ids = np.arange(1000, 4000, dtype=np.int64)[::-1].copy()  # external ids unrelated to rows
    index = VectorIndex(32, "enc-test", CONFIGS[request.param]).build(ids, vecs)
    assert index.kind == request.param
    return index, ids, vecs


def test_idmap_refuses_use_before_build() -> None:
    with pytest.raises(RuntimeError, match="before ids were assigned"):
        IdMap().ids()
    m = IdMap()
    m.assign([7, 3])
    assert list(m.rows_of([3, 7, 99])) == [1, 0]
    with pytest.raises(KeyError, match="99"):
        m.rows_of([99], strict=True)
    with pytest.raises(ValueError, match="unique"):
        IdMap().assign([1, 1])


def test_known_answer_query_finds_itself(built) -> None:
    index, ids, vecs = built
    got, scores = index.search(vecs[[5, 17]], 3)
    assert list(got[:, 0]) == [ids[5], ids[17]]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_batch_equals_single(built) -> None:
    index, _, vecs = built
    batch_ids, batch_scores = index.search(vecs[:20], 10)
    for i in range(20):
        one_ids, one_scores = index.search(vecs[i], 10)
        assert list(one_ids[0]) == list(batch_ids[i])
        np.testing.assert_allclose(one_scores[0], batch_scores[i], rtol=1e-6)


def test_allow_list_is_respected_and_exact(built) -> None:
    index, ids, vecs = built
    allow_small = ids[::97]  # small: exact scan
    allow_large = ids[::2]  # large: FAISS with a selector
    q = _unit(np.random.default_rng(1), 5)
    for allow in (allow_small, allow_large):
        got, _ = index.search(q, 10, allow=allow)
        assert set(got.ravel()) <= set(allow)
    got, scores = index.search(q, 10, allow=allow_small)
    rows = np.isin(ids, allow_small)
    expect = ids[rows][np.argsort(-(q[0] @ vecs[rows].T))[:10]]
    assert list(got[0]) == list(expect)
    empty_ids, empty_scores = index.search(q, 4, allow=[123456789])
    assert (empty_ids == -1).all() and np.isneginf(empty_scores).all()


def test_remove_add_and_compact(built) -> None:
    index, ids, vecs = built
    assert index.remove([ids[5], 424242]) == 1
    got, _ = index.search(vecs[5], 5)
    assert ids[5] not in got[0]
    new = _unit(np.random.default_rng(2), 2)
    index.add([90001, 90002], new)
    assert index.search(new[1], 1)[0][0, 0] == 90002
    with pytest.raises(ValueError, match="already in the index"):
        index.add([90001], new[:1])
    index.compact()
    assert len(index) == 3001 and ids[5] not in index.id_map


@pytest.mark.parametrize("approximate", ["hnsw", "ivf"])
def test_approximate_recall_against_exact(approximate: str) -> None:
    """Clustered vectors (as profile embeddings are): recall@100 of the default settings ≥ 0.95."""
    rng = np.random.default_rng(3)
    centres = _unit(rng, 40, 48)
    x = centres[rng.integers(0, 40, 20_000)] + 0.6 * rng.standard_normal((20_000, 48)).astype(np.float32) / 7
    vecs = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    index = VectorIndex(48, "e", IndexConfig(exact_threshold=100, approximate=approximate)).build(
        np.arange(20_000), vecs)
    assert index.kind == approximate
    q = vecs[rng.choice(20_000, 50, replace=False)]
    approx, _ = index.search(q, 100)
    exact, _ = index.exact_search(q, 100)
    recall = np.mean([len(set(a) & set(e)) / 100 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.95


def test_search_rows_equals_search_by_ids(built) -> None:
    index, ids, vecs = built
    rng = np.random.default_rng(5)
    mask = rng.random(len(ids)) < 0.3
    a_ids, a_scores = index.search(vecs[:4], 10, allow=ids[mask])
    b_ids, b_scores = index.search_rows(vecs[:4], 10, allow=mask)
    assert np.array_equal(a_ids, b_ids) and np.allclose(a_scores, b_scores)
    assert np.isin(b_ids[b_ids >= 0], ids[mask]).all()
    with pytest.raises(ValueError, match="allow mask has 3 rows"):
        index.search_rows(vecs[:1], 5, allow=np.ones(3, dtype=bool))


def test_index_shares_the_callers_vectors_and_update_does_not_write_into_them() -> None:
    rng = np.random.default_rng(6)
    vecs = _unit(rng, 200)
    before = vecs.copy()
    index = VectorIndex(32, "e", IndexConfig(exact_threshold=10_000)).build(np.arange(200), vecs)
    assert np.shares_memory(index.vectors_of(np.arange(200)), vecs) is False  # fancy indexing copies
    assert index._vectors is vecs
    index.update([3], _unit(rng, 1))
    assert np.array_equal(vecs, before)


def test_save_load_round_trip_and_checks(built, tmp_path) -> None:
    index, _, vecs = built
    index.save(tmp_path / "ix")
    loaded = VectorIndex.load(tmp_path / "ix", encoder_id="enc-test")
    a = index.search(vecs[:7], 8)
    b = loaded.search(vecs[:7], 8)
    assert (a[0] == b[0]).all() and np.allclose(a[1], b[1])
    with pytest.raises(ArtifactError, match="rebuild the index with the active encoder"):
        VectorIndex.load(tmp_path / "ix", encoder_id="another-encoder")
    (tmp_path / "ix" / "ids.npy").write_bytes(b"garbage")
    with pytest.raises(ArtifactError, match="rebuild the index"):
        VectorIndex.load(tmp_path / "ix")
    with pytest.raises(ArtifactError, match="no index"):
        VectorIndex.load(tmp_path / "nowhere")


def test_wrong_dimension_is_refused() -> None:
    index = VectorIndex(8, "e")
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        index.build([1], np.ones((1, 9), dtype=np.float32))


def test_build_or_load_builds_once_and_loads_with_the_callers_vectors(tmp_path) -> None:
    from matching.retrieval.indexstore import build_or_load

    rng = np.random.default_rng(8)
    vecs = _unit(rng, 2000)
    ids = np.arange(10, 2010)
    config = IndexConfig(exact_threshold=100, nprobe_fraction=0.5)
    first = build_or_load(tmp_path, ids, vecs, "e", config)
    saved = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(saved) == 1 and not (saved[0] / "vectors.npy").exists()  # the vectors are the caller's
    second = build_or_load(tmp_path, ids, vecs, "e", config)
    assert second._vectors is not None and np.shares_memory(second._vectors, vecs)
    a, _ = first.search(vecs[:3], 5)
    b, _ = second.search(vecs[:3], 5)
    assert np.array_equal(a, b) and list(a[:, 0]) == [10, 11, 12]
    other = vecs.copy()
    other[0] = other[1]
    build_or_load(tmp_path, ids, other, "e", config)  # other vectors: another index
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 2
    small = build_or_load(tmp_path, ids[:50], vecs[:50], "e", config)  # below the threshold: built, not saved
    assert small.kind == "flat"
