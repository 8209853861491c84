"""Read-only containers over flat arrays, so a mapped serving context shares its lists and id maps.

A serving context is written once per machine and mapped by every worker (:mod:`matching.serving.mapped`).
Its NumPy arrays are shared pages, but a pickled list of a million records, names or an id dict unpickles
into private Python objects in every worker (about 2 GB at a million enterprises). The containers here
keep such data as a few flat arrays (which the writer maps like any other array) and decode an item
only when it is read:

* :class:`PackedSequence`: a list of strings (UTF-8) or of picklable records (each pickled), as one byte
  array and the ``int64`` offsets of its items; indexing, slicing, ``len`` and iteration as a list's.
* :class:`PackedMap`: a dict with ``int`` or ``str`` keys and ``int`` (or any picklable) values, looked up
  by binary search over the sorted keys (``str`` keys by a stable 64-bit hash, then compared); iteration
  in the dict's order.

Both are read-only: changing one raises :class:`TypeError` naming the fix (copy it with ``list``/``dict``).
A read returns a new object each time (no identity across reads) unless the sequence keeps what it
decoded (``cached``: a mandate read twice is the same object, as :mod:`matching.snapshot.asof` compares
versions to the current mandate with ``is``). Items that are records of another sequence (``ref``) are
stored as references to it and decode to that sequence's (cached) record.

    names = PackedSequence.build(["甲公司", "乙公司"])        # kind "str"
    rows = PackedMap.build({101: 0, 205: 1})                 # rows.get(205) == 1
"""

from __future__ import annotations

import hashlib
import io
import operator
import pickle
from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from typing import Any

import numpy as np

_INT64 = (-(2**63), 2**63 - 1)
_CHUNK = 1 << 16


def _read_only(self: object, *args: Any, **kwargs: Any) -> None:
    raise TypeError(f"a {type(self).__name__} is read-only (a serving context's mapped data): "
                    f"copy it with list(...) or dict(...) to change it")


class _RefPickler(pickle.Pickler):
    """Pickles one item, writing the records of ``ref`` as their row there."""

    def __init__(self, buf: io.BytesIO, rows: dict[int, int]) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self.rows = rows

    def persistent_id(self, obj: Any) -> int | None:  # noqa: D102
        return self.rows.get(id(obj))


class _RefUnpickler(pickle.Unpickler):
    """Unpickles one item, reading references as the records of ``ref``."""

    def __init__(self, data: memoryview, ref: Sequence[Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.ref = ref

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        return self.ref[pid]


class PackedSequence(Sequence[Any]):
    """A read-only list stored as ``data`` (bytes) and ``offsets`` (``int64``, one more than the items).

    Args:
        data: the items' bytes, concatenated (``uint8``; may be a read-only mapping).
        offsets: item ``i`` is ``data[offsets[i]:offsets[i + 1]]``.
        kind: ``"str"`` (UTF-8 text) or ``"pickle"`` (any picklable item).
        ref: the sequence that references in pickled items point into (``None``: none).
        cached: keep each decoded item, so that reading it again returns the same object.
    """

    __slots__ = ("_data", "_view", "_off", "_kind", "_ref", "_cache")

    def __init__(self, data: np.ndarray, offsets: np.ndarray, kind: str, *, ref: Sequence[Any] | None = None,
                 cached: bool = False) -> None:
        if kind not in ("str", "pickle"):
            raise ValueError(f"kind must be 'str' or 'pickle', got {kind!r}")
        if offsets.ndim != 1 or len(offsets) < 1 or int(offsets[-1]) > len(data):
            raise ValueError(f"offsets ({offsets.shape}, last {offsets[-1] if len(offsets) else None}) do not fit "
                             f"{len(data)} bytes of data: write the sequence with PackedSequence.build")
        self._data, self._off, self._kind, self._ref = data, offsets, kind, ref
        self._view = memoryview(np.ascontiguousarray(data, dtype=np.uint8)).cast("B")
        self._cache: dict[int, Any] | None = {} if cached else None

    @classmethod
    def build(cls, items: Iterable[Any], kind: str | None = None, *, ref: Sequence[Any] | None = None,
              cached: bool = False) -> PackedSequence:
        """Pack ``items``: as ``"str"`` when all are strings (unless ``kind`` says), else pickled.

        ``ref``: items (or parts of items) that are records of ``ref`` (the same objects) are stored as
        references and decode to ``ref``'s records.
        """
        items = list(items)
        if kind is None:
            kind = "str" if all(type(x) is str for x in items) else "pickle"
        if kind == "str":
            chunks = [x.encode("utf-8", "surrogatepass") for x in items]
        elif ref is not None:
            rows = {id(x): i for i, x in enumerate(ref)}
            chunks = []
            for x in items:
                buf = io.BytesIO()
                _RefPickler(buf, rows).dump(x)
                chunks.append(buf.getvalue())
        else:
            chunks = [pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL) for x in items]
        offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in chunks], out=offsets[1:])
        data = np.frombuffer(b"".join(chunks) + b"\0", dtype=np.uint8)  # never empty: an empty file cannot be mapped
        return cls(data, offsets, kind, ref=ref, cached=cached)

    @property
    def kind(self) -> str:
        """``"str"`` or ``"pickle"``."""
        return self._kind

    @property
    def cached(self) -> bool:
        """Whether decoded items are kept (identity across reads)."""
        return self._cache is not None

    @property
    def ref(self) -> Sequence[Any] | None:
        """The sequence references in items point into."""
        return self._ref

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that hold the sequence (what a writer stores)."""
        return {"data": self._data, "offsets": self._off}

    def _decode(self, i: int) -> Any:
        a, b = int(self._off[i]), int(self._off[i + 1])
        raw = self._view[a:b]
        if self._kind == "str":
            return str(raw, "utf-8", "surrogatepass")
        if self._ref is not None:
            return _RefUnpickler(raw, self._ref).load()
        return pickle.loads(raw)

    def _item(self, i: int) -> Any:
        if self._cache is None:
            return self._decode(i)
        try:
            return self._cache[i]
        except KeyError:
            return self._cache.setdefault(i, self._decode(i))  # two threads decoding at once keep one

    def __len__(self) -> int:
        return len(self._off) - 1

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._item(i) for i in range(*index.indices(len(self)))]
        i, n = operator.index(index), len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {index} out of range for a sequence of {n} items")
        return self._item(i)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self._item(i)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (list, PackedSequence)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> list[Any]:
        if not isinstance(other, (list, PackedSequence)):
            return NotImplemented
        return [*self, *other]

    def __radd__(self, other: Any) -> list[Any]:
        if not isinstance(other, list):
            return NotImplemented
        return [*other, *self]

    def __repr__(self) -> str:
        return f"PackedSequence({len(self)} {self._kind} items)"

    def __reduce__(self) -> tuple[Any, ...]:
        return _sequence, (self._data, self._off, self._kind, self._ref, self.cached)

    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = insert = pop = remove = clear = _read_only
    sort = reverse = _read_only


def _sequence(data: np.ndarray, offsets: np.ndarray, kind: str, ref: Sequence[Any] | None,
              cached: bool) -> PackedSequence:
    return PackedSequence(data, offsets, kind, ref=ref, cached=cached)


def key_hash(key: str) -> int:
    """A stable 64-bit hash of a string (the same in every process, unlike :func:`hash`)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "little", signed=True)


class _Items(ItemsView[Any, Any]):
    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        m = self._mapping
        return zip(iter(m), m._iter_values(), strict=True)  # type: ignore[attr-defined]


class _Values(ValuesView[Any]):
    def __iter__(self) -> Iterator[Any]:
        return self._mapping._iter_values()  # type: ignore[attr-defined]


class PackedMap(Mapping[Any, Any]):
    """A read-only dict with ``int`` or ``str`` keys, over arrays.

    Args:
        keys: the keys in the dict's order (``int64`` array, or a ``"str"`` :class:`PackedSequence`).
        sorted_keys: the keys sorted (``int`` keys) or their :func:`key_hash` sorted (``str`` keys).
        positions: the position in ``keys`` of each entry of ``sorted_keys``.
        values: the values by position: an ``int64`` array (read as ``int``) or a :class:`PackedSequence`.
    """

    __slots__ = ("_keys", "_sorted", "_pos", "_values", "_str")

    def __init__(self, keys: np.ndarray | PackedSequence, sorted_keys: np.ndarray, positions: np.ndarray,
                 values: np.ndarray | PackedSequence) -> None:
        if not len(keys) == len(sorted_keys) == len(positions) == len(values):
            raise ValueError(f"{len(keys)} keys, {len(sorted_keys)} sorted keys, {len(positions)} positions and "
                             f"{len(values)} values: build the map with PackedMap.build")
        self._keys, self._sorted, self._pos, self._values = keys, sorted_keys, positions, values
        self._str = isinstance(keys, PackedSequence)

    @classmethod
    def build(cls, d: Mapping[Any, Any], *, ref: Sequence[Any] | None = None) -> PackedMap | None:
        """Pack ``d``, or ``None`` when it cannot be (keys neither all ``int`` nor all ``str``, or out of
        ``int64``). ``int`` values (not ``bool``) in ``int64`` are kept as an array, others pickled (``ref``:
        as in :meth:`PackedSequence.build`)."""
        keys, values = list(d), list(d.values())
        if all(type(k) is int for k in keys):
            if keys and not (_INT64[0] <= min(keys) and max(keys) <= _INT64[1]):
                return None
            karr: np.ndarray | PackedSequence = np.asarray(keys, dtype=np.int64).reshape(-1)
            order = np.argsort(karr, kind="stable")
            sorted_keys = karr[order]
        elif all(type(k) is str for k in keys):
            karr = PackedSequence.build(keys, "str")
            hashes = np.asarray([key_hash(k) for k in keys], dtype=np.int64).reshape(-1)
            order = np.argsort(hashes, kind="stable")
            sorted_keys = hashes[order]
        else:
            return None
        ints = all(type(v) is int for v in values)
        if ints and (not values or _INT64[0] <= min(values) and max(values) <= _INT64[1]):
            varr: np.ndarray | PackedSequence = np.asarray(values, dtype=np.int64).reshape(-1)
        else:
            varr = PackedSequence.build(values, "pickle", ref=ref)
        return cls(karr, sorted_keys, order.astype(np.int64), varr)

    def arrays(self) -> dict[str, np.ndarray | PackedSequence]:
        """The parts that hold the map (what a writer stores)."""
        return {"keys": self._keys, "sorted": self._sorted, "positions": self._pos, "values": self._values}

    def _find(self, key: Any) -> int:
        """The position of ``key`` in the keys, -1 when absent (as a dict: ``3.0`` finds ``3``)."""
        n = len(self._pos)
        if self._str:
            if not isinstance(key, str):
                return -1
            h = key_hash(key)
            j = int(np.searchsorted(self._sorted, h))
            while j < n and int(self._sorted[j]) == h:
                p = int(self._pos[j])
                if self._keys[p] == key:
                    return p
                j += 1
            return -1
        try:
            k = operator.index(key)
        except TypeError:
            if isinstance(key, (float, np.floating)) and float(key).is_integer():
                k = int(key)
            else:
                return -1
        if not _INT64[0] <= k <= _INT64[1]:
            return -1
        j = int(np.searchsorted(self._sorted, k))
        return int(self._pos[j]) if j < n and int(self._sorted[j]) == k else -1

    def _value(self, p: int) -> Any:
        return int(self._values[p]) if isinstance(self._values, np.ndarray) else self._values[p]

    def _iter_values(self) -> Iterator[Any]:
        if isinstance(self._values, PackedSequence):
            yield from self._values
            return
        for a in range(0, len(self._values), _CHUNK):
            yield from self._values[a:a + _CHUNK].tolist()

    def __getitem__(self, key: Any) -> Any:
        p = self._find(key)
        if p < 0:
            raise KeyError(key)
        return self._value(p)

    def get(self, key: Any, default: Any = None) -> Any:
        """The value of ``key``, else ``default``."""
        p = self._find(key)
        return default if p < 0 else self._value(p)

    def __contains__(self, key: object) -> bool:
        return self._find(key) >= 0

    def __iter__(self) -> Iterator[Any]:
        if self._str:
            yield from self._keys
            return
        for a in range(0, len(self._keys), _CHUNK):
            yield from self._keys[a:a + _CHUNK].tolist()

    def __len__(self) -> int:
        return len(self._pos)

    def items(self) -> ItemsView[Any, Any]:
        """``(key, value)`` pairs in the dict's order."""
        return _Items(self)

    def values(self) -> ValuesView[Any]:
        """Values in the dict's order."""
        return _Values(self)

    def __repr__(self) -> str:
        return f"PackedMap({len(self)} {'str' if self._str else 'int'} keys)"

    def __reduce__(self) -> tuple[Any, ...]:
        return PackedMap, (self._keys, self._sorted, self._pos, self._values)

    __setitem__ = __delitem__ = pop = popitem = setdefault = update = clear = __ior__ = _read_only
