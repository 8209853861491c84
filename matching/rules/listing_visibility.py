"""Which financing needs and secondary listings each role may read: the rule in one place, pure (no I/O).

From ``../shared/DOMAIN.md``: a need is the deal an enterprise offers investors, so investors see the
needs that are live (open or in negotiation); a need that was withdrawn or closed is no longer on
offer and is the enterprise's business. Secondary listings (fund interests and old shares for sale)
are what **S funds** buy: an exiting holder's intention to sell an enterprise's shares is confidential
to the seller, the buyers the platform serves it to (S funds, live listings only) and staff.

==================  ========================================  ================================================
role                financing needs                            secondary listings
==================  ========================================  ================================================
admin, operator     all                                        all
data_scientist      all                                        all
investor            live (open, in_progress) of every          its own as seller (any status); an S fund
                    enterprise                                 (``s_fund``) also the live (open, under_offer)
                                                               listings of others
enterprise          its own (any status)                       none (403)
==================  ========================================  ================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.domain import vocab

#: Need statuses an investor sees (the live ones).
LIVE_NEEDS: tuple[str, ...] = vocab.LIVE_NEED_STATUSES
#: Listing statuses a buyer sees.
LIVE_SECONDARIES: tuple[str, ...] = ("open", "under_offer")
#: Investor types that buy secondaries.
BUYER_TYPES: tuple[str, ...] = ("s_fund",)
_ALL = ("admin", "operator", "data_scientist")


def need_statuses(role: str) -> tuple[str, ...] | None:
    """The need statuses ``role`` may read (``None``: every status; an enterprise reads its own only)."""
    return LIVE_NEEDS if role == "investor" else None


@dataclass(frozen=True)
class SecondaryScope:
    """The secondary listings one caller may read.

    Attributes:
        seller: the caller's own listings (as seller), whatever their status (``None``: no such part).
        statuses: the statuses of other sellers' listings it reads (``None``: all; empty: none).
    """

    seller: int | None = None
    statuses: tuple[str, ...] | None = None

    def allows(self, *, seller_investor_id: int | None, status: str) -> bool:
        """Whether one listing is in scope."""
        if self.seller is not None and seller_investor_id == self.seller:
            return True
        return self.statuses is None or status in self.statuses


def secondary_scope(role: str, *, investor_id: int | None = None, investor_type: str | None = None
                    ) -> SecondaryScope:
    """The listings a caller of ``role`` (acting for an investor of ``investor_type``) may read.

    Raises:
        ValueError: a role that reads no listings (enterprise keys are refused before this).
    """
    if role in _ALL:
        return SecondaryScope()
    if role == "investor":
        return SecondaryScope(investor_id, LIVE_SECONDARIES if investor_type in BUYER_TYPES else ())
    raise ValueError(f"role {role!r} reads no secondary listings; allowed: {', '.join((*_ALL, 'investor'))}")
