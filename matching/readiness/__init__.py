"""Listing readiness: the standards as versioned data (:mod:`.standards`) and where each enterprise stands
against them (:mod:`.readiness`). A core step after ``rules``: it reads the domain only."""

from matching.readiness.readiness import (
    NEAR,
    Panel,
    TargetReadiness,
    TargetScores,
    panel,
    readiness_for,
    readiness_matrix,
    score_target,
)
from matching.readiness.standards import METRICS, Criterion, Standards, load_standards, parse_standards, shipped

__all__ = ["METRICS", "NEAR", "Criterion", "Panel", "Standards", "TargetReadiness", "TargetScores", "load_standards",
           "panel", "parse_standards", "readiness_for", "readiness_matrix", "score_target", "shipped"]
