"""The two sides of the market and the one grade that counts as a positive outcome.

A *side* names who asks: :attr:`Side.INVESTOR` asks for enterprises (a deal list), and
:attr:`Side.ENTERPRISE` asks for investors. Training data, rankers (``ranker_<side>.txt``),
evaluation and serving all key their two directions by the asking side, so ``Side`` is the one
word for it. ``Side`` is a ``str`` enum: ``Side.INVESTOR == "investor"``, so saved artifacts and
JSON keep their plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """Who asks for a list: an investor (for enterprises) or an enterprise (for investors)."""

    INVESTOR = "investor"
    ENTERPRISE = "enterprise"

    def other(self) -> Side:
        """The side being ranked for this one: enterprises for an investor, investors for an enterprise."""
        return Side.ENTERPRISE if self is Side.INVESTOR else Side.INVESTOR

    @classmethod
    def parse(cls, value: str) -> Side:
        """``value`` as a side, or ``ValueError`` naming the allowed values."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"side {value!r}: allowed: {', '.join(s.value for s in cls)}") from None


#: The funnel grade from which a pair counts as a positive outcome: a contact requested or better
#: (``matching.domain.vocab.EVENT_GRADES``). Labels, history counts, metrics and encoder pairs use it.
POSITIVE_GRADE = 3
