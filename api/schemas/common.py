"""Shapes shared by every route: the error body (for the OpenAPI docs), the page of a list, the base of
request bodies."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class FieldProblem(BaseModel):
    """One field's problem."""

    field: str
    value: Any = None
    allowed: list[str] | None = None
    reason: str | None = None


class ErrorDetail(BaseModel):
    """The error."""

    code: str = Field(examples=["validation_error"])
    message: str = Field(examples=["请求参数不合法：tier / Invalid value(s) for: tier"])
    fields: list[FieldProblem] = []
    request_id: str | None = None


class ErrorOut(BaseModel):
    """Every 4xx and 5xx body."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the listed statuses documented with :class:`ErrorOut`."""
    return {s: {"model": ErrorOut} for s in statuses}


class BodyIn(BaseModel):
    """A request body: unknown fields refused (text PostgreSQL cannot store never gets this far: :mod:`api.hygiene`)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)


class Page(BaseModel, Generic[T]):
    """A page of a list: ``total`` matches the filters; pass ``next_offset`` as ``offset`` for the next page."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None
