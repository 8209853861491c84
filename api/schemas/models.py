"""Model versions, promotion, rollback and retraining jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelVersionOut(BaseModel):
    """A registered model version."""

    version: str
    status: str
    created_at: datetime
    activated_at: datetime | None
    serving: bool = Field(description="Whether this process serves it now.")
    metrics: dict[str, Any]
    manifest: dict[str, Any] | None = Field(None, description="In the single-version view only.")


class ModelListOut(BaseModel):
    """Every version, newest first, and what serves."""

    serving: str
    active: str | None
    versions: list[ModelVersionOut]


class PromoteIn(BaseModel):
    """``force``: promote even when the version does not beat the active one (admins only, with a ``reason``,
    recorded in the audit log; the artifact is still checked)."""

    model_config = ConfigDict(extra="forbid")
    force: bool = False
    reason: str | None = Field(None, max_length=500, description="Why the quality gate is overridden (with force).")


class RollbackIn(BaseModel):
    """Roll back to ``to``, or (``null``) to the version active before the current one."""

    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class SwapOut(BaseModel):
    """The result of a promotion or rollback."""

    version: str
    status: str
    serving: str
    previous: str


class RetrainIn(BaseModel):
    """A retraining request."""

    model_config = ConfigDict(extra="forbid")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    version: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Default: m<UTC time>.")
    promote: bool = Field(False, description="Promote when it beats the active version.")


class JobOut(BaseModel):
    """A retraining job."""

    id: str
    status: str
    params: dict[str, Any]
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    version: str | None
    promoted: bool
    metrics: dict[str, Any]
    error: str | None
    log: list[str]
