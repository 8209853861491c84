"""Cell parsers for :class:`~matching.ingest.parse_engine.Column`: the value parsers of
:mod:`matching.ingest.parse_values` and the vocabularies, adapted to the ``(text, field, unit)``
signature. ``unique_values`` marks parsers whose results are not worth caching (names, codes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matching.domain.vocab import Vocabulary, split_list
from matching.ingest.parse_engine import CellParser
from matching.ingest.parse_values import parse_amount, parse_int, parse_ratio, parse_text


def text(max_len: int = 200) -> CellParser:
    """Free text of at most ``max_len`` characters."""

    def parse(raw: str, fld: str, unit: Any) -> str | None:
        return parse_text(raw, fld, max_len=max_len)

    parse.unique_values = True  # type: ignore[attr-defined]  # names, descriptions: not worth caching
    return parse


def one_of(vocab: Vocabulary) -> CellParser:
    """One value of a :class:`~matching.domain.vocab.Vocabulary` (code, Chinese or English label)."""
    return lambda raw, fld, unit: vocab.parse(raw, fld)


def many_of(vocab: Vocabulary) -> CellParser:
    """A list of vocabulary values separated by , ， ; ； 、 or |."""
    return lambda raw, fld, unit: vocab.parse_many(raw, fld)


def each(parse_one: Callable[[str, str], Any]) -> CellParser:
    """A separated list, each item parsed by ``parse_one(item, field)``; duplicates dropped."""

    def parse(raw: str, fld: str, unit: Any) -> list[Any]:
        out: list[Any] = []
        for item in split_list(raw):
            value = parse_one(item, fld)
            if value not in out:
                out.append(value)
        return out

    return parse


def amount(*, allow_negative: bool = False) -> CellParser:
    """An amount (万/亿 units; the header's unit applies to bare numbers)."""

    return lambda raw, fld, unit: parse_amount(
        raw, fld, unit=unit if isinstance(unit, float) else 1.0, allow_negative=allow_negative
    )


def ratio(minimum: float = 0.0, maximum: float = 10.0) -> CellParser:
    """A fraction (``12%`` or ``0.12``; bare numbers are percent under a ``(%)`` header)."""

    return lambda raw, fld, unit: parse_ratio(raw, fld, percent=unit == "%", minimum=minimum, maximum=maximum)


def integer(minimum: int | None = 0, maximum: int | None = None) -> CellParser:
    """A whole number within bounds."""

    return lambda raw, fld, unit: parse_int(raw, fld, minimum=minimum, maximum=maximum)


def plain(parse_one: Callable[[str, str], Any], *, unique: bool = False) -> CellParser:
    """Any ``parse_one(text, field)`` function as a cell parser (``unique``: values rarely repeat,
    so results are not cached)."""

    def parse(raw: str, fld: str, unit: Any) -> Any:
        return parse_one(raw, fld)

    parse.unique_values = unique  # type: ignore[attr-defined]
    return parse
