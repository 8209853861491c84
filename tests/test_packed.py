"""Packed containers (matching.serving.packed): read as the lists and dicts they were packed from.

Known answers: strings (Chinese, empty, a lone surrogate) and records round-trip; indexing, negative indices,
slices and iteration as a list's; int- and str-keyed maps find what the dict finds (numpy ints, ``3.0``,
missing keys, wrong key types) and iterate in its order; colliding hashes are told apart by the key; a
sequence that refers to another's records decodes to them (``is``) when that one is cached; any change raises.
"""

from __future__ import annotations

import pickle
from datetime import date

import numpy as np
import pytest

from matching.domain.records import Mandate, Need
from matching.serving import packed
from matching.serving.packed import PackedMap, PackedSequence, key_hash

NAMES = ["重庆星辰科技有限公司", "", "Acme GmbH", "ångström", "\ud800", "一" * 300]


def test_strings_round_trip_with_list_indexing_and_slices() -> None:
    seq = PackedSequence.build(NAMES)
    assert seq.kind == "str" and len(seq) == 6 and list(seq) == NAMES
    assert seq[0] == "重庆星辰科技有限公司" and seq[-1] == "一" * 300 and seq[-6] == NAMES[0]
    assert seq[np.int64(2)] == "Acme GmbH" and seq[4] == "\ud800"
    for s in (slice(1, 4), slice(None, None, -1), slice(-3, None), slice(10, 20), slice(0, 6, 2)):
        assert seq[s] == NAMES[s]
    for bad in (6, -7):
        with pytest.raises(IndexError, match="out of range for a sequence of 6 items"):
            seq[bad]  # noqa: B018
    with pytest.raises(TypeError):
        seq["1"]  # noqa: B018
    assert "Acme GmbH" in seq and "nope" not in seq and seq.index("ångström") == 3 and seq.count("") == 1
    assert seq == NAMES and seq != NAMES[:-1] and seq + ["x"] == [*NAMES, "x"] and ["x"] + seq == ["x", *NAMES]
    # the bytes are the UTF-8 text, one offset per item
    assert seq.arrays()["offsets"].tolist()[:3] == [0, 30, 30]
    assert bytes(seq.arrays()["data"][:30]).decode("utf-8") == NAMES[0]


def test_records_round_trip_and_each_read_is_a_new_object() -> None:
    needs = [Need(f"N{i}", f"91500000{i:010d}", "equity", 1e6 * i, round="A" if i % 2 else None,
                  opened_on=date(2024, 1, 1 + i % 28), use_of_funds="扩产") for i in range(50)]
    seq = PackedSequence.build([*needs, None])
    assert seq.kind == "pickle" and list(seq) == [*needs, None] and seq[-2] == needs[-1] and seq[-1] is None
    assert seq[10:13] == needs[10:13] and seq[7] is not seq[7]  # decoded on each read
    seq[7].amount = 0.0  # a read is a copy: changing it changes nothing packed
    assert seq[7].amount == 7e6
    assert PackedSequence.build([1, "a"]).kind == "pickle" and PackedSequence.build([]) == []


def test_a_sequence_refers_to_the_cached_records_of_another() -> None:
    mandates = [Mandate(f"inv:{i}", version=2, sectors=["C39"]) for i in range(5)]
    old = Mandate("inv:1", version=1, sectors=["I65"])
    current = PackedSequence.build(mandates, "pickle", cached=True)
    assert current[1] is current[1] and current[-4] is current[1] and current.cached
    versions = PackedMap.build({1: [old, mandates[1]], 3: [mandates[3]]}, ref=mandates)
    assert versions is not None
    # written with references to ``mandates``, read back against the packed copy of it
    got = PackedMap(*[pickle.loads(pickle.dumps(p)) for p in (versions._keys, versions._sorted, versions._pos)],
                    PackedSequence(*versions._values.arrays().values(), "pickle", ref=current))
    assert got[1] == [old, mandates[1]] and got[1][1] is current[1] and got[1][0] is not current[1]
    assert got[3][0] is current[3]


def test_int_maps_find_what_the_dict_finds_in_its_order() -> None:
    rng = np.random.default_rng(0)
    ids = rng.choice(10**12, 2000, replace=False)
    d = {int(x): i for i, x in enumerate(ids)}
    m = PackedMap.build(d)
    assert m is not None and len(m) == 2000 and list(m) == list(d) and list(m.items()) == list(d.items())
    assert list(m.values()) == list(d.values()) and m == d and dict(m) == d
    k = int(ids[17])
    assert m[k] == 17 and type(m[k]) is int and m[np.int64(k)] == 17 and m.get(float(k)) == 17
    assert k in m and np.int32(5) not in m and 2.5 not in m and "17" not in m and None not in m and 2**70 not in m
    assert m.get(-1) is None and m.get(-1, "x") == "x" and m.get(k + 0.5) is None
    with pytest.raises(KeyError):
        m[-1]  # noqa: B018
    with pytest.raises(KeyError):
        m["a"]  # noqa: B018
    small = PackedMap.build({5: 0, -3: 1, 2**62: 2, 0: -(2**63)})
    assert small is not None and [small[x] for x in (5, -3, 2**62, 0)] == [0, 1, 2, -(2**63)]
    assert list(small) == [5, -3, 2**62, 0] and PackedMap.build({}) == {}


def test_str_maps_and_colliding_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    d = {"91500000MA5U000001": 0, "platform:inv-9": 1, "重庆:甲": 2, "": 3}
    m = PackedMap.build(d)
    assert m is not None and dict(m.items()) == d and list(m) == list(d)
    assert m["重庆:甲"] == 2 and m[""] == 3 and m.get("nope") is None and 3 not in m
    assert key_hash("重庆:甲") == key_hash("重庆:甲") != key_hash("重庆:乙")
    monkeypatch.setattr(packed, "key_hash", lambda key: 7)  # every key collides: told apart by the key itself
    m = PackedMap.build(d)
    assert m is not None and all(m[k] == v for k, v in d.items()) and "zz" not in m


def test_maps_of_objects_and_keys_that_cannot_be_packed() -> None:
    m = PackedMap.build({3: ["a", "b"], 1: [], 2: None, 4: True})
    assert m is not None and m[3] == ["a", "b"] and m[2] is None and m[4] is True and list(m) == [3, 1, 2, 4]
    assert PackedMap.build({1: 0, "a": 1}) is None and PackedMap.build({2**64: 0}) is None
    assert PackedMap.build({(1, 2): 0}) is None and PackedMap.build({True: 0}) is None


def test_changes_are_refused_and_copies_pickle_as_they_read() -> None:
    seq = PackedSequence.build(NAMES)
    m = PackedMap.build({1: 10, 2: 20})
    assert m is not None
    for change in (lambda: seq.__setitem__(0, "x"), lambda: seq.append("x"), lambda: seq.extend(["x"]),
                   lambda: seq.__delitem__(0), lambda: seq.sort(), lambda: m.__setitem__(3, 30),
                   lambda: m.update({3: 30}), lambda: m.pop(1), lambda: m.setdefault(3, 30), lambda: m.clear()):
        with pytest.raises(TypeError, match="is read-only .*copy it with list"):
            change()
    with pytest.raises(TypeError):
        hash(seq)
    assert list(pickle.loads(pickle.dumps(seq))) == NAMES and dict(pickle.loads(pickle.dumps(m))) == {1: 10, 2: 20}
    assert repr(seq) == "PackedSequence(6 str items)" and repr(m) == "PackedMap(2 int keys)"
    with pytest.raises(ValueError, match="do not fit"):
        PackedSequence(np.zeros(3, dtype=np.uint8), np.array([0, 5]), "str")
