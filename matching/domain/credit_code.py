"""Unified social credit code (统一社会信用代码, GB 32100-2015).

18 characters from a 31-symbol alphabet (digits and capitals without I, O, Z, S, V):
1 registration authority, 1 entity type, 6 administrative division, 9 organisation code,
1 check character. The check character makes the weighted sum of all 18 values ≡ 0 (mod 31),
with weight 3^(i) mod 31 for position i.
"""

from __future__ import annotations

import re

from matching.errors import FieldError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_CANONICAL = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28


def check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code.

    Raises:
        ValueError: if ``first17`` is not 17 characters of the code alphabet.
    """
    if len(first17) != 17 or any(c not in _VALUE for c in first17):
        raise ValueError(f"need 17 characters from {ALPHABET}, got {first17!r}")
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=False))
    return ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(value: object, field: str = "credit_code") -> str:
    """Validate a unified social credit code and return it in canonical form.

    Full-width characters and lower case are folded, surrounding spaces and inner spaces or
    hyphens removed.

    Raises:
        FieldError: naming the problem: length, a character outside the alphabet, or a wrong
            check character (with the expected one).
    """
    if value is None:
        raise FieldError(field, value, "a unified social credit code (18 characters) is required")
    raw = str(value)
    if _CANONICAL.fullmatch(raw):  # fast path: already canonical (bulk imports)
        if raw[17] == check_character(raw[:17]):
            return raw
        text = raw
    else:
        text = "".join(_fold(c) for c in raw if not c.isspace() and c not in "-－")
    if len(text) != 18:
        raise FieldError(field, raw, f"must be 18 characters (GB 32100-2015), got {len(text)}")
    bad = [c for c in text if c not in _VALUE]
    if bad:
        raise FieldError(
            field, raw,
            f"character '{bad[0]}' is not allowed; use digits and capital letters except I, O, Z, S, V",
        )
    expected = check_character(text[:17])
    if text[17] != expected:
        raise FieldError(field, raw, f"check character is '{text[17]}' but should be '{expected}' (GB 32100-2015)")
    return text


def is_valid_credit_code(value: object) -> bool:
    """Whether :func:`normalize_credit_code` accepts the value."""
    try:
        normalize_credit_code(value)
    except FieldError:
        return False
    return True


def make_credit_code(authority: str, entity_type: str, division: str, org9: str) -> str:
    """Assemble a valid code from its parts (used by the synthetic market generator)."""
    first17 = f"{authority}{entity_type}{division}{org9}".upper()
    return first17 + check_character(first17)


def _fold(c: str) -> str:
    if "！" <= c <= "～":  # full-width ASCII block
        c = chr(ord(c) - 0xFEE0)
    return c.upper()
