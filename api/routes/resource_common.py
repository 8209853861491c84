"""What the resource routes share: role sets, paging parameters, label-tolerant filters, error mapping.

Not a router: :mod:`api.routes.enterprises`, :mod:`api.routes.investors`, :mod:`api.routes.listings`
and :mod:`api.routes.uploads` use these helpers; :mod:`api.routes.resources` joins their routers.
``invalid``, ``label`` and ``district_name`` live in :mod:`api.services.checks` (the service layer uses
them too) and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel

from api.deps import ROLES, STAFF, Principal, require_roles
from api.errors import ApiError, field_detail, forbidden
from api.schemas.common import error_responses
from api.services.checks import district_name as district_name
from api.services.checks import invalid as invalid
from api.services.checks import label as label
from matching.domain import regions, vocab
from matching.errors import FieldError
from store.resources import Duplicate, Invalid

Anyone = Annotated[Principal, Depends(require_roles(*ROLES))]
StaffOnly = Annotated[Principal, Depends(require_roles(*STAFF))]
READ_ERRORS = error_responses(401, 403, 404, 422, 429, 503)
WRITE_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 429, 503)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200)")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip (the previous page's next_offset)")]
Text = Annotated[str | None, Query(max_length=200, description="Text contained in names or descriptions")]
QueryCodes = Annotated[list[str] | None, Query(description="Codes or labels; repeat or separate with commas")]


def codes(values: Sequence[str] | None, parse: Callable[[str], str | None], field: str,
          allowed: Sequence[str]) -> list[str]:
    """Query values (codes or labels, repeated or comma-separated) as codes; 422 naming the first bad one."""
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


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """The page envelope."""
    return {"items": items, "total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None}


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


def conflict(exc: Duplicate, what_zh: str, what_en: str) -> ApiError:
    """A 409 naming the key fields, their values and the record that holds them."""
    holder = f" (id {exc.existing_id})" if exc.existing_id is not None else ""
    names = ", ".join(exc.fields)
    return ApiError(409, "conflict", f"{what_zh}已存在：{names}{holder}",
                    f"A {what_en} with this {names} already exists{holder}; update it instead (PATCH)",
                    fields=[field_detail(f, v, f"already used{holder}") for f, v in zip(exc.fields, exc.values,
                                                                                        strict=False)])


def refused(exc: Invalid) -> ApiError:
    """A 422 for a value a database constraint refused."""
    return ApiError(422, "validation_error", "数据不满足约束条件", f"The values break a rule of the market's data: "
                    f"{exc.message} ({exc.constraint or 'constraint'})",
                    fields=[field_detail(exc.constraint or "body", None, exc.message)])


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
