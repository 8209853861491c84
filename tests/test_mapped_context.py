"""One copy of the market per machine (issue 16 item 1): the serving context written as files and mapped.

Known answers on a generated market: the mapped context ranks exactly as the built one (deal and investor
lists); its arrays and indexes are read-only mappings of the written files; a second process maps the
same files; a stale or corrupt folder is refused with a message naming the fix (and ``context_for``
rebuilds it); a reload writes the new folder beside the old one and a matcher over the old mapping keeps
serving after the old folder is removed; the snapshot's long lists and id maps are packed files, mapped, that
read as the lists and dicts they were (a current mandate version still ``is`` the mandate).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers_encoder import HashingEncoder

from matching.config import Settings
from matching.errors import ArtifactError
from matching.serving import mapped
from matching.serving.context import MatchContext, market_context
from matching.serving.mapped import (
    FORMAT_VERSION,
    MANIFEST,
    MAPPED_MIN_BYTES,
    PACKED_FIELDS,
    SHARED_FIELDS,
    context_for,
    context_key,
    load_context,
    prune,
    write_context,
)
from matching.serving.matcher import Matcher, Policy
from matching.serving.packed import PackedMap, PackedSequence
from matching.snapshot.asof import version_texts
from matching.snapshot.core import build_snapshot
from matching.synth.generator import generate_market

ROOT = Path(__file__).resolve().parents[1]


def _context(seed: int = 3) -> MatchContext:
    m = generate_market(600, 60, 12, seed=seed)
    snap = build_snapshot(m.enterprises, m.investors, m.mandates, m.needs, m.secondaries, m.events)
    # an approximate (IVF) index from 300 vectors, so the FAISS file mapped is an IVF one
    return market_context(snap, HashingEncoder(64), settings=Settings(exact_search_threshold=300), slim=True)


@pytest.fixture(scope="module")
def built() -> MatchContext:
    return _context()


def _matcher(c: MatchContext) -> Matcher:
    return Matcher(c, None, Policy.from_settings(Settings()), encoder=HashingEncoder(64))


def _lists(c: MatchContext) -> list[list[tuple[int | None, float]]]:
    m = _matcher(c)
    deals = [[(i.enterprise_id, round(i.score, 9)) for i in m.recommend_enterprises(int(v), 15).items]
             for v in c.snap.inv_id[:30]]
    invs = [[(i.investor_id, round(i.score, 9)) for i in m.recommend_investors(int(e), 15).items]
            for e in c.snap.ent_id[:30]]
    return deals + invs


def test_round_trip_ranks_exactly_as_the_built_context(built: MatchContext, tmp_path: Path) -> None:
    write_context(built, tmp_path, "k1")
    mapped = load_context(tmp_path, "k1")
    got, want = _lists(mapped), _lists(built)
    assert got == want and sum(len(x) for x in got) > 300
    assert np.array_equal(mapped.ent_vecs, built.ent_vecs) and mapped.index.kind == built.index.kind == "ivf"
    # the big arrays are read-only views of mappings of the written files
    big = [v for v in [*vars(mapped.snap).values(), *vars(mapped.live).values(), mapped.ent_vecs]
           if isinstance(v, np.ndarray) and v.nbytes >= MAPPED_MIN_BYTES]
    assert len(big) >= 5
    for arr in big:
        assert not arr.flags.writeable and isinstance(arr.base, np.memmap)
        assert Path(arr.base.filename).parent == tmp_path / "k1"
    with pytest.raises(ValueError, match="read-only"):
        mapped.ent_vecs[0, 0] = 1.0


def test_two_processes_map_the_same_files(built: MatchContext, tmp_path: Path) -> None:
    write_context(built, tmp_path, "k1")
    here = load_context(tmp_path, "k1")
    code = ("import sys; from pathlib import Path; from matching.serving.mapped import load_context; "
            f"c = load_context(Path({str(tmp_path)!r}), 'k1'); c.ent_vecs.sum(); "
            "print('\\n'.join(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'k1' in l})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True).stdout.split()
    mine = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if "/k1/" in line}
    vec_file = str(Path(here.ent_vecs.base.filename))
    assert vec_file in out and vec_file in mine  # both processes map the one file: the kernel keeps one copy
    assert any(p.endswith(".faiss") for p in out)  # the index too (FAISS IO_FLAG_MMAP_IFC)


def test_a_corrupt_or_stale_folder_is_refused_with_the_fix(built: MatchContext, tmp_path: Path) -> None:
    path = write_context(built, tmp_path, "k1")
    fix = f"delete {path} and start the service again (the first worker rebuilds it from the database)"
    npy = sorted(path.glob("*.npy"))[0]
    raw = bytearray(npy.read_bytes())
    raw[-1] ^= 0xFF
    npy.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError) as err:
        load_context(tmp_path, "k1")
    assert str(err.value) == (f"serving context at {path} is corrupt: {npy.name} does not match its SHA-256 in "
                              f"{MANIFEST}: {fix}")
    npy.write_bytes(bytes(raw[:-8]))
    with pytest.raises(ArtifactError, match=f"{npy.name} has {len(raw) - 8} bytes, the manifest says {len(raw)}"):
        load_context(tmp_path, "k1")
    (path / "k1").mkdir()  # a folder copied under another key is stale
    (tmp_path / "k2").mkdir()
    (tmp_path / "k2" / MANIFEST).write_text((path / MANIFEST).read_text(), encoding="utf-8")
    with pytest.raises(ArtifactError) as err:
        load_context(tmp_path, "k2")
    assert str(err.value).startswith(f"serving context at {tmp_path / 'k2'} is stale: format {FORMAT_VERSION} and key "
                                     f"k1, expected format {FORMAT_VERSION} and key k2: delete ")
    with pytest.raises(ArtifactError, match="no serving context at .*manifest.json missing.*: delete"):
        load_context(tmp_path, "k3")


def test_context_for_builds_once_maps_after_and_rebuilds_a_corrupt_one(built: MatchContext, tmp_path: Path) -> None:
    calls: list[int] = []

    def build() -> MatchContext:
        calls.append(1)
        return built

    first, was_built = context_for(tmp_path, "k1", build)
    second, again = context_for(tmp_path, "k1", build)
    assert (was_built, again, len(calls)) == (True, False, 1)
    assert isinstance(first.ent_vecs.base, np.memmap) and _lists(second) == _lists(built)
    manifest = json.loads((tmp_path / "k1" / MANIFEST).read_text(encoding="utf-8"))
    pkl = tmp_path / "k1" / "context.pkl"
    pkl.write_bytes(b"x" * manifest["files"]["context.pkl"]["bytes"])  # same size, other content
    third, rebuilt = context_for(tmp_path, "k1", build)
    assert rebuilt and len(calls) == 2 and _lists(third) == _lists(built)


def test_a_reload_swaps_atomically_and_the_old_mapping_keeps_serving(built: MatchContext, tmp_path: Path) -> None:
    old = load_context(write_context(built, tmp_path, "old").parent, "old")
    before = _lists(old)
    newer = _context(seed=4)
    write_context(newer, tmp_path, "new")  # the reload: written beside the old one, then renamed
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["new", "old"]
    assert not list(tmp_path.glob(".*tmp*"))
    assert prune(tmp_path, {"new"}, keep_last=1) == ["old"] and not (tmp_path / "old").exists()
    assert _lists(old) == before  # a worker still on the old mapping serves on until it switches
    assert _lists(load_context(tmp_path, "new")) == _lists(newer)


def test_the_key_changes_with_the_market_encoder_and_settings() -> None:
    base = context_key("fp1", "enc", {"index": {"nlist": 1}})
    assert base == context_key("fp1", "enc", {"index": {"nlist": 1}}) and len(base) == 24
    assert len({base, context_key("fp2", "enc", {"index": {"nlist": 1}}),
                context_key("fp1", "enc2", {"index": {"nlist": 1}}),
                context_key("fp1", "enc", {"index": {"nlist": 2}})}) == 4


def test_long_lists_and_id_maps_are_packed_mapped_and_read_as_before(built: MatchContext, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mapped, "PACKED_MIN_ITEMS", 50)  # this market's lists are short: pack them all
    write_context(built, tmp_path, "k1")
    got = load_context(tmp_path, "k1")
    s, b = got.snap, built.snap
    for name in PACKED_FIELDS:
        have, want = getattr(s, name), getattr(b, name)
        if isinstance(want, dict):
            assert isinstance(have, PackedMap) and list(have.items()) == list(want.items()), name
            assert all(have[k] == v and k in have for k, v in want.items()), name
        else:
            assert isinstance(have, PackedSequence) and list(have) == want, name
            assert [have[i] for i in range(-len(want), len(want))] == want + want, name
        parts = [p for p in have.arrays().values() if isinstance(p, np.ndarray)]
        assert parts and all(isinstance(p.base, np.memmap) and not p.flags.writeable for p in parts), name
        assert all(Path(p.base.filename).parent == tmp_path / "k1" for p in parts), name
    assert isinstance(got.sec_row, dict) and got.sec_row == built.sec_row  # 34 listings: under the threshold
    for name in SHARED_FIELDS:  # lists of sets: equal sets are one object
        have, want = getattr(s, name), getattr(b, name)
        assert type(have) is list and have == want and len({id(x) for x in have}) == len(set(want)), name
    assert len({id(x) for x in b.man_excluded_sectors}) > len(set(b.man_excluded_sectors))
    assert s.need_record[3] == b.need_record[3] and s.need_record[3] is not s.need_record[3]  # decoded per read
    # the current version of a mandate is the mandate itself, as built (asof compares them with `is`)
    assert s.man_record[7] is s.man_record[7]
    same = [[m is b.man_record[r] for m in vs] for r, vs in b.man_versions.items()]
    assert [[m is s.man_record[r] for m in vs] for r, vs in s.man_versions.items()] == same
    assert any(not all(x) for x in same) and any(any(x) for x in same)
    assert version_texts(s) == version_texts(b) and len(version_texts(b)) > 0
    assert s.ent_key_row.get(b.ent_key[5]) == 5 and s.enterprise_row.get(-1) is None
    with pytest.raises(KeyError):
        s.need_row[-1]  # noqa: B018
    with pytest.raises(TypeError, match="read-only"):
        s.enterprise_row[1] = 2
    with pytest.raises(TypeError, match="read-only"):
        s.need_record[0] = b.need_record[1]
    assert _lists(got) == _lists(built)
    # written again from the mapped copy (a reload of the same market): the same container, the same answers
    again = load_context(write_context(got, tmp_path, "k2").parent, "k2")
    assert list(again.snap.man_versions.items()) == list(b.man_versions.items()) and _lists(again) == _lists(built)
