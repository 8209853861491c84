"""What the matcher serves: :class:`MatchList` of :class:`MatchItem`, and the error of an unknown party."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from matching.errors import MatchingError
from matching.explain.reasons import Reason

#: The version recorded on lists ranked without a model (the transparent content + rules score).
CONTENT_RULES = "content-rules"
Direction = Literal["enterprises_for_investor", "investors_for_enterprise", "secondaries_for_investor",
                    "search_enterprises", "search_investors"]


class UnknownPartyError(MatchingError, KeyError):
    """An investor or enterprise id that the snapshot does not hold."""


@dataclass
class MatchItem:
    """One served item. Ids are the snapshot's external ids; ``None`` where not applicable."""

    position: int  # 1-based, as stored in the impression log
    score: float
    enterprise_id: int | None = None
    investor_id: int | None = None
    need_id: int | None = None
    secondary_id: int | None = None
    p_investor: float | None = None
    p_enterprise: float | None = None
    reasons: list[Reason] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    features: dict[str, float | None] = field(default_factory=dict)


@dataclass
class MatchList:
    """A served list: items best first, and what produced it."""

    items: list[MatchItem]
    model_version: str
    direction: Direction
    as_of: datetime

    def __len__(self) -> int:
        return len(self.items)
