"""Which funnel events each role may read: the one statement of the rule, pure (no I/O).

A funnel event is about a pair (investor, enterprise) and has an ``actor``. Some actions are a
party's private conduct: looking at a profile, bookmarking it, putting it aside. The other party must
never learn of them (an enterprise that sees which investors viewed, saved or dismissed it learns
their pipeline). The rest are addressed to the other party and are what the two of them share.

=====================  ==========================================================================
role                   reads
=====================  ==========================================================================
admin, operator        every event
data_scientist         every event (they analyse the funnel)
investor               events of its own investor: its own actions of every type, and the
                       enterprise's addressed actions (never the enterprise's viewed, saved,
                       dismissed)
enterprise             events of its own enterprise: its own actions of every type, and the
                       investors' addressed actions: contact requests, meetings, due diligence,
                       term sheets, investments, declines (never their viewed, saved, dismissed)
=====================  ==========================================================================

:data:`PRIVATE_TYPES` are private to their actor; every other type is addressed to the pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.domain import vocab

#: Event types only their actor (and staff, data scientists) may read.
PRIVATE_TYPES: tuple[str, ...] = ("viewed", "saved", "dismissed")
#: Event types both parties of the pair read.
ADDRESSED_TYPES: tuple[str, ...] = tuple(c for c in vocab.EVENT_TYPES.codes if c not in PRIVATE_TYPES)
#: Roles that read every event.
READ_ALL = ("admin", "operator", "data_scientist")


@dataclass(frozen=True)
class EventScope:
    """What one caller may read.

    Attributes:
        investor_id: only events of this investor (``None``: any).
        enterprise_id: only events of this enterprise (``None``: any).
        side: the caller's side (``investor``/``enterprise``): of :data:`PRIVATE_TYPES` only events
            it acted; ``None`` for roles that read every event.
    """

    investor_id: int | None = None
    enterprise_id: int | None = None
    side: str | None = None


def scope(role: str, *, investor_id: int | None = None, enterprise_id: int | None = None) -> EventScope:
    """The events a caller of ``role`` acting for ``investor_id``/``enterprise_id`` may read.

    Raises:
        ValueError: an unknown role, or a party role without its party (listing what is needed).
    """
    if role in READ_ALL:
        return EventScope()
    if role == "investor":
        if investor_id is None:
            raise ValueError("an investor key needs its investor_id")
        return EventScope(investor_id=investor_id, side="investor")
    if role == "enterprise":
        if enterprise_id is None:
            raise ValueError("an enterprise key needs its enterprise_id")
        return EventScope(enterprise_id=enterprise_id, side="enterprise")
    raise ValueError(f"unknown role {role!r}; allowed: {', '.join((*READ_ALL, 'investor', 'enterprise'))}")

