"""An enterprise as far as a caller may see it (:mod:`api.disclosure`), for the API's enterprise routes
(:mod:`api.routes.enterprises`) and the console's profile page.

Every role may read an enterprise, each seeing what disclosure allows: investors by tier, the
enterprise's own choice and the mutual reveal, other enterprises the public profile, staff and data
scientists everything. Pending credential claims are shown as claims ("企业自报，待核验"), never as facts.
Every read of confidential fields is audited before it is returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from api import disclosure
from api.deps import ROLES, Principal
from api.errors import not_found
from api.security import record_confidential_views
from api.services.checks import authorize, district_name, label, party_id
from matching.domain import industries, vocab
from store import claims as claims_db
from store import resources as db


def profile(conn: Any, who: Principal, enterprise_id: int) -> dict[str, Any]:
    """The enterprise as ``who`` may see it (``withheld`` and ``disclosure`` say what is not shown and why);
    404 when there is none. Confidential fields shown are audited first."""
    authorize(who, *ROLES)
    party_id("enterprise_id", enterprise_id)
    row = db.get_enterprise(conn, enterprise_id)
    if row is None:
        raise not_found("企业", "enterprise", enterprise_id, "enterprise_id")
    claims = claims_db.of_enterprises(conn, [enterprise_id]).get(enterprise_id, [])
    out = view(row, who, enterprise_id in accepted(conn, who, [enterprise_id]), claims)
    record_confidential_views(conn, who, [out])  # audited before anything confidential is sent
    return out


def accepted(conn: Any, who: Principal, enterprise_ids: list[int]) -> set[int]:
    """Enterprises that accepted the calling investor's contact request (empty for other roles)."""
    if who.role != "investor" or who.investor_id is None:
        return set()
    return db.contacts_accepted(conn, investor_id=who.investor_id, enterprise_ids=enterprise_ids)


#: How each claim status is shown.
CLAIM_STATUS_ZH = {"pending": "企业自报，待核验", "verified": "已核验", "rejected": "核验未通过",
                   "superseded": "已由新的申报取代"}


def claim_view(row: Mapping[str, Any], who: Principal) -> dict[str, Any]:
    """A claim as ``who`` may see it: the keys that claimed and decided only for staff and the enterprise."""
    insider = who.is_staff or who.enterprise_id == row["enterprise_id"]
    return {**row, "status_zh": CLAIM_STATUS_ZH[row["status"]],
            "claimed_by_key_id": row["claimed_by_key_id"] if insider else None,
            "decided_by_key_id": row["decided_by_key_id"] if insider else None}


def view(row: dict[str, Any], who: Principal, contact_accepted: bool,
         claims: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """An enterprise row as ``who`` may see it, with Chinese labels and its pending claims (not facts)."""
    row = dict(row)
    row["disclosure_choice"] = row.pop("disclosure")
    decision = disclosure.decide(role=who.role, tier=row["tier"], disclosure=row["disclosure_choice"],
                                 enterprise_id=row["id"], viewer_enterprise_id=who.enterprise_id,
                                 contact_accepted=contact_accepted)
    out = disclosure.redact(row, decision)
    out["district_name"] = district_name(row["district"])
    out["industry_zh"] = industries.industry(row["industry"]).zh if row["industry"] else None
    out["tier_zh"] = label(vocab.TIERS, row["tier"])
    out["boards_zh"] = [vocab.BOARDS.label(b) for b in row["boards"]]
    out["claims"] = [claim_view(c, who) for c in claims]
    return out
