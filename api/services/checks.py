"""The checks every service operation starts with (the caller's role, the ids it names, whose record it
is, the fields only staff change), the 422 that names a field, the fields a client sent, and the Chinese
labels the services' views show.

The checks repeat what a route declares to FastAPI (``require_roles``, ``Path(gt=0)``) so that an
operation called from elsewhere (the web console) holds the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from api.deps import Principal, authorize
from api.errors import ApiError, field_detail, forbidden
from matching.domain import regions, vocab
from matching.errors import FieldError

__all__ = ["authorize", "codes", "district_codes", "district_name", "invalid", "label", "own_enterprise",
           "own_investor", "party_id", "staff_only_fields", "values_of", "vocab_codes"]


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


def values_of(body: BaseModel, *, required: Iterable[str] = (), clear: Mapping[str, Any] | None = None,
              skip: Iterable[str] = ()) -> dict[str, Any]:
    """The fields a client sent; ``null`` clears a clearable field (``clear``: its empty value) and is a 422
    for a ``required`` one."""
    values = body.model_dump(exclude_unset=True, exclude=set(skip))
    clear = clear or {}
    for name in list(values):
        if values[name] is None and name in clear:
            values[name] = clear[name]
        elif values[name] is None and name in required:
            raise invalid(name, None, f"字段 {name} 不能为空", f"{name} may not be null; send a value or leave it out")
    return values


def staff_only_fields(who: Principal, values: Mapping[str, Any], fields: Iterable[str]) -> None:
    """403 when a party key tries to change fields only staff may change."""
    if who.is_staff:
        return
    touched = sorted(set(values) & set(fields))
    if touched:
        raise forbidden(f"只有平台运营人员可以修改：{', '.join(touched)}",
                        f"Only admin or operator keys may change {', '.join(touched)}")


def own_investor(who: Principal, investor_id: int) -> None:
    """403 unless staff or the investor's own key."""
    if not who.may_act_for_investor(investor_id):
        raise _not_yours(who, "投资方", "investor", investor_id)


def own_enterprise(who: Principal, enterprise_id: int) -> None:
    """403 unless staff or the enterprise's own key."""
    if not who.may_act_for_enterprise(enterprise_id):
        raise _not_yours(who, "企业", "enterprise", enterprise_id)


def _not_yours(who: Principal, kind_zh: str, kind_en: str, target: int) -> ApiError:
    mine = {"investor": who.investor_id, "enterprise": who.enterprise_id}.get(who.role)
    if mine is None:
        return forbidden(f"角色 {who.role} 无权访问{kind_zh} {target}",
                         f"Keys of role {who.role} may not act for {kind_en} {target}")
    side_zh = "投资方" if who.role == "investor" else "企业"
    return forbidden(f"该密钥只能访问{side_zh} {mine} 的数据",
                     f"This key acts for {who.role} {mine} only, not {kind_en} {target}")


def codes(values: Sequence[str] | None, parse: Callable[[str], str | None], field: str,
          allowed: Sequence[str]) -> list[str]:
    """Filter values (codes or labels, repeated or comma-separated) as codes; 422 naming the first bad one."""
    out: list[str] = []
    for item in (p for v in values or () for p in vocab.split_list(v)):
        try:
            code = parse(item)
        except FieldError as exc:
            raise invalid(field, item, f"{field} 的取值不合法：{item}", f"unknown {field} {item!r}", allowed) from exc
        if code and code not in out:
            out.append(code)
    return out


def vocab_codes(values: Sequence[str] | None, vocabulary: vocab.Vocabulary, field: str) -> list[str]:
    """:func:`codes` for a vocabulary."""
    return codes(values, vocabulary.parse, field, vocabulary.codes)


def district_codes(values: Sequence[str] | None) -> list[str]:
    """:func:`codes` for districts (code, name or pinyin)."""
    return codes(values, regions.parse_district, "district", [d.code for d in regions.DISTRICTS])
