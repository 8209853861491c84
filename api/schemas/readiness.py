"""Listing readiness: an enterprise's readiness per target, the staff pipeline, the standards import."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SourceOut(BaseModel):
    """Where a criterion comes from."""

    document: str = Field(examples=["《北京证券交易所股票上市规则（试行）》（2024年4月修订）"])
    article: str = Field(examples=["第2.1.3条（二）"])


class CriterionOut(BaseModel):
    """One criterion for the enterprise: met, missed (``margin`` = figure − threshold, in ``unit``) or unknown."""

    metric: str = Field(examples=["revenue"])
    label_zh: str = Field(examples=["最近2年平均营业收入 >= 10,000 万元"])
    label_en: str
    operator: str = Field(examples=[">="])
    threshold: float | None = Field(description="in unit; null: not public (placeholder)")
    unit: str = Field(examples=["万元"])
    years_needed: int
    aggregate: str = Field(description="latest | each | sum | mean | pooled")
    status: str = Field(description="met | missed | unknown")
    figure: float | None = Field(description="the enterprise's figure, in unit (each: its worst year)")
    margin: float | None = Field(description="figure − threshold, in unit (negative: short by)")
    relative_gap: float | None = Field(description="|threshold − figure| / max(|threshold|, |figure|) when missed")
    figure_years: list[int] = Field(description="the years the figure is computed from")
    unknown_reason: str | None = Field(description="no_figure | not_assessable | not_public")
    assessable: bool = Field(description="false: not assessable from platform data (market value, 股改 …)")
    placeholder: bool = Field(description="true: not public or not verified, to be confirmed (待确认)")
    verified: bool
    source: SourceOut
    date: str | None
    note: str | None


class SetOut(BaseModel):
    """One alternative set of a target's standard."""

    code: str
    zh: str
    en: str
    score: float | None
    met: bool
    criteria: list[CriterionOut]


class ChangeOut(BaseModel):
    """A change that would move the enterprise toward a target (``delta`` null: report the missing figure)."""

    target: str
    set: str
    metric: str
    figure: float | None
    threshold: float | None
    unit: str
    delta: float | None
    relative_gap: float | None
    text_zh: str
    text_en: str


class TargetOut(BaseModel):
    """One target (the next regional tier or a board)."""

    target: str = Field(examples=["bse"])
    zh: str = Field(examples=["北交所"])
    en: str
    kind: str = Field(description="tier | board")
    applicable: bool = Field(description="false: a tier that is not the enterprise's next one")
    status: str = Field(description="met | met_on_platform_data | near | far | unknown")
    status_zh: str
    status_en: str
    score: float | None = Field(description="the best set's score in [0, 1]; null: nothing assessable")
    best_set: str
    placeholder: bool = Field(description="some figure of this standard is to be confirmed")
    placeholder_zh: str | None = None
    placeholder_en: str | None = None
    sets: list[SetOut]
    changes: list[ChangeOut]


class StandardsRef(BaseModel):
    """The standards version used."""

    version: str = Field(examples=["2024.1"])
    hash: str


class ReadinessOut(BaseModel):
    """An enterprise's readiness per target, and the changes that would move it most across targets."""

    enterprise_id: int
    tier: str
    standards: StandardsRef
    near_threshold: float
    targets: list[TargetOut]
    changes: list[ChangeOut]


class PipelineCounts(BaseModel):
    """How many enterprises per status."""

    met: int
    met_on_platform_data: int
    near: int = Field(description="score ≥ near_threshold, not met")
    far: int
    unknown: int


class PipelineDistrict(PipelineCounts):
    """One district's counts."""

    district: str | None
    district_name: str


class PipelineTarget(BaseModel):
    """One target's counts, in total and by district."""

    target: str
    zh: str
    en: str
    kind: str
    placeholder: bool
    assessed: int = Field(description="enterprises assessed (a tier target: those of the tier below)")
    counts: PipelineCounts
    by_district: list[PipelineDistrict]


class PipelineOut(BaseModel):
    """The reserve-list pipeline (上市培育): per target, counts by district."""

    standards: StandardsRef
    near_threshold: float
    districts: list[str]
    enterprises: int
    targets: list[PipelineTarget]


class StandardsImportOut(BaseModel):
    """The result of a standards import."""

    version: str
    hash: str
    targets: int
    imported: bool = Field(description="false: this exact version was already imported (nothing changed)")
    filename: str | None


class StandardsVersionOut(BaseModel):
    """One standards version (``shipped``: the default shipped with the code)."""

    version: str
    hash: str
    imported_at: datetime | None
    imported_by: str | None
    shipped: bool
