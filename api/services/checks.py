"""The checks every service operation starts with (the caller's role, the ids it names), the 422 that
names a field, and the Chinese labels the services' views show.

The checks repeat what a route declares to FastAPI (``require_roles``, ``Path(gt=0)``) so that an
operation called from elsewhere (the web console) holds the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.deps import authorize
from api.errors import ApiError, field_detail
from matching.domain import regions, vocab

__all__ = ["authorize", "district_name", "invalid", "label", "party_id"]


def party_id(field: str, value: int) -> int:
    """``value`` when it is a positive id (the routes' ``Path(gt=0)``), else a 422 naming ``field``.

    No upper bound, as on the routes: an id beyond the database's range names no record (a 404 there).
    """
    if value <= 0:
        raise invalid(field, value, f"{field} 须为正整数", f"{field} must be greater than 0", ["> 0"])
    return value


def invalid(field: str, value: object, zh: str, en: str, allowed: Sequence[str] | None = None) -> ApiError:
    """A 422 naming the field, the value and (when given or known) the allowed values."""
    return ApiError(422, "validation_error", zh, en, fields=[field_detail(field, value, en, allowed)])


def label(vocabulary: vocab.Vocabulary, code: str | None) -> str | None:
    """The Chinese label of a code (``None`` stays ``None``)."""
    return vocabulary.label(code) if code is not None and code in vocabulary else None


def district_name(code: str | None) -> str | None:
    """The Chinese name of a district code."""
    return regions.district(code).zh if code else None
