"""What of an enterprise a caller may see: pure functions, no I/O.

The rules (``../shared/DOMAIN.md``: disclosure depends on tier; financial detail must not leak):

* **Staff** (admin, operator) and **data scientists** (platform-internal; the ranker's features are
  built from these values anyway) see everything. So does **the enterprise itself**.
* **Other enterprises** see the public profile only.
* **Investors** see what the enterprise's ``disclosure`` choice and tier disclose:

  ==============================  ==========================================================
  ``tier_default`` + basic 基础层   public profile only (minimal disclosure)
  ``tier_default`` + growth 成长层  + registered capital and operating metrics (headcount, patents,
                                  R&D ratio, growth); amounts (revenue, net profit) withheld
  ``tier_default`` + select 优选层  everything (fullest disclosure)
  ``public``                      everything, whatever the tier (the enterprise opted in)
  ``on_request``                  public profile only, whatever the tier
  ==============================  ==========================================================

  Beyond that, once the enterprise **accepts this investor's contact request** (a
  ``contact_accepted`` funnel event with actor ``enterprise`` for the pair), the investor sees
  everything: the mutual reveal. Other investors are not affected. A reveal is not withdrawn later:
  what was shown cannot be unshown.

* The enterprise's refusal lists (``excluded_investors``, ``excluded_investor_types``) are internal:
  only staff, data scientists and the enterprise itself see them; for everyone else they are ``null``
  and never named as withheld (naming them would tell that the enterprise refuses someone).

Every response names what was withheld and why (:class:`Decision`), so a client can show
"财务数据将在企业同意您的联系请求后披露".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Groups of enterprise fields that may be withheld, in display order.
CAPITAL = "registered_capital"
OPERATING = "operating_metrics"  # per-year employees, patents, rd_ratio, revenue_growth
FINANCIALS = "financials"  # per-year revenue and net profit (the yearly list as a whole when all is withheld)
GROUPS = (CAPITAL, OPERATING, FINANCIALS)

OPERATING_FIELDS = ("employees", "patents", "rd_ratio", "revenue_growth")
AMOUNT_FIELDS = ("revenue", "net_profit")
RESTRICTION_FIELDS = ("excluded_investors", "excluded_investor_types")

#: Ranking features computed from each withheld group (:data:`matching.features.table.FEATURES`): what is derived
#: from a field is withheld with it (model reasons, their weights, feature values).
WITHHELD_FEATURES: dict[str, tuple[str, ...]] = {
    CAPITAL: (),
    OPERATING: ("ent_growth", "ent_rd_ratio", "ent_log_patents"),
    FINANCIALS: ("ent_log_revenue",),
}

INTERNAL_ROLES = ("admin", "operator", "data_scientist")
_BY_TIER: dict[str, tuple[str, ...]] = {
    "basic": (CAPITAL, OPERATING, FINANCIALS),
    "growth": (FINANCIALS,),
    "select": (),
}
_PUBLIC_ONLY = (CAPITAL, OPERATING, FINANCIALS)

REVEAL_EN = "after your contact request is accepted by the enterprise"
REVEAL_ZH = "企业同意您的联系请求后披露"


@dataclass(frozen=True)
class Decision:
    """What one caller may see of one enterprise.

    Attributes:
        level: ``full`` (no disclosure group withheld), ``partial`` or ``public`` (the public profile only).
        basis: why: ``staff``, ``internal``, ``own``, ``other_enterprise``, ``tier:<tier>``,
            ``disclosure:public``, ``disclosure:on_request`` or ``contact_accepted``.
        withheld: the withheld field groups (:data:`GROUPS`), in display order.
        internal: whether the refusal lists are shown (staff, data scientists, the enterprise itself).
        reveal: how the caller could see more (English), ``None`` when it cannot or needs not.
        reveal_zh: the same in Chinese.
    """

    level: str
    basis: str
    withheld: tuple[str, ...] = ()
    internal: bool = False
    reveal: str | None = None
    reveal_zh: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``disclosure`` object of a response."""
        return {"level": self.level, "basis": self.basis, "reveal": self.reveal, "reveal_zh": self.reveal_zh}


def decide(*, role: str, tier: str, disclosure: str, enterprise_id: int, viewer_enterprise_id: int | None = None,
           contact_accepted: bool = False) -> Decision:
    """Decide what a caller of ``role`` may see of an enterprise.

    Args:
        role: the caller's role (admin, operator, data_scientist, investor, enterprise).
        tier: the enterprise's tier (basic, growth, select).
        disclosure: the enterprise's choice (tier_default, public, on_request).
        enterprise_id: the enterprise shown.
        viewer_enterprise_id: the enterprise an enterprise key acts for.
        contact_accepted: whether the enterprise accepted the calling investor's contact request.

    Raises:
        ValueError: for an unknown role, tier or disclosure level (listing the allowed ones).
    """
    if tier not in _BY_TIER:
        raise ValueError(f"unknown tier {tier!r}; allowed: {', '.join(_BY_TIER)}")
    if disclosure not in ("tier_default", "public", "on_request"):
        raise ValueError(f"unknown disclosure {disclosure!r}; allowed: tier_default, public, on_request")
    if role in INTERNAL_ROLES:
        return Decision("full", "staff" if role != "data_scientist" else "internal", internal=True)
    if role == "enterprise":
        if viewer_enterprise_id == enterprise_id:
            return Decision("full", "own", internal=True)
        return Decision("public", "other_enterprise", _PUBLIC_ONLY)
    if role != "investor":
        raise ValueError(f"unknown role {role!r}; allowed: {', '.join((*INTERNAL_ROLES, 'investor', 'enterprise'))}")
    if contact_accepted:
        return Decision("full", "contact_accepted")
    if disclosure == "public":
        return Decision("full", "disclosure:public")
    if disclosure == "on_request":
        return Decision("public", "disclosure:on_request", _PUBLIC_ONLY, reveal=REVEAL_EN, reveal_zh=REVEAL_ZH)
    withheld = _BY_TIER[tier]
    if not withheld:
        return Decision("full", f"tier:{tier}")
    return Decision("public" if withheld == _PUBLIC_ONLY else "partial", f"tier:{tier}", withheld,
                    reveal=REVEAL_EN, reveal_zh=REVEAL_ZH)


def withheld_figures(decision: Decision) -> tuple[str, ...]:
    """The yearly figures (:data:`OPERATING_FIELDS`, :data:`AMOUNT_FIELDS`) the decision's groups withhold: what
    :func:`redact` blanks, and what nothing derived for that audience may read."""
    hidden = set(decision.withheld)
    return (OPERATING_FIELDS if OPERATING in hidden else ()) + (AMOUNT_FIELDS if FINANCIALS in hidden else ())


def redact(enterprise: Mapping[str, Any], decision: Decision) -> dict[str, Any]:
    """A copy of an enterprise (a dict with ``financials``: a list of yearly dicts) without what is withheld.

    Withheld scalars become ``None``; a withheld yearly field becomes ``None`` in every year; when
    both operating metrics and amounts are withheld the yearly list itself is ``None`` (not even the
    years on file are shown). The result carries ``withheld`` (field groups) and ``disclosure``
    (:meth:`Decision.as_dict`).
    """
    out = dict(enterprise)
    hidden = set(decision.withheld)
    if CAPITAL in hidden:
        out["registered_capital"] = None
    if not decision.internal:
        for f in RESTRICTION_FIELDS:
            out[f] = None
    years = enterprise.get("financials")
    if OPERATING in hidden and FINANCIALS in hidden:
        out["financials"] = None
    elif years is not None:
        out["financials"] = [{**y, **dict.fromkeys(withheld_figures(decision))} for y in years]
    out["withheld"] = list(decision.withheld)
    out["disclosure"] = decision.as_dict()
    return out
