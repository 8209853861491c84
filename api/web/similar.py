"""More like this in the console: "相似企业 / Similar companies" on an enterprise's card
(``/web/enterprises/{id}``) and "相似机构 / Similar investors" on the investor's page (``/web/investor``).

Both call :mod:`api.services.similar`, as the API's routes do (the same access rules, hard rules and
disclosure: a withheld figure shows as "未披露 / Withheld", never as a number). The panel's words live here
(``WORDS``) so that the panel is one file and a template.
"""

from __future__ import annotations

from typing import Any

from api.deps import Principal
from api.services import similar as service
from api.state import AppState
from api.web.common import EXPECTED, PageError
from api.web.i18n import pick
from matching.domain import regions, vocab
from matching.rules.event_visibility import READ_ALL

#: How many items a panel lists.
K = 8
WORDS: dict[str, tuple[str, str]] = {
    "title_enterprises": ("相似企业", "Similar companies"),
    "title_investors": ("相似机构", "Similar investors"),
    "help_enterprises": ("按企业简介的语义相似度排序；财务数据按披露规则显示。",
                         "Ranked by how alike the profiles read; figures as disclosed to you."),
    "help_investors": ("按投资方向的语义相似度排序；仅显示公开信息。",
                       "Ranked by how alike the mandates read; public fields only."),
    "help_enterprises_staff": ("按企业简介的语义相似度与共同投资方排序；财务数据按披露规则显示。",
                               "Ranked by how alike the profiles read and by shared investors; figures as "
                               "disclosed to you."),
    "help_investors_staff": ("按投资方向（或投资组合）的相似度与共同投资记录排序；仅显示公开信息。",
                             "Ranked by how alike the mandates (or portfolios) read and by co-investments; "
                             "public fields only."),
    "none": ("暂无相似的企业", "No similar companies"),
    "none_investors": ("暂无相似的机构", "No similar investors"),
    "revenue": ("营业收入", "Revenue"),
    "employees": ("员工", "Employees"),
    "withheld": ("财务数据未披露", "Figures withheld"),
    "no_figures": ("暂无财务数据", "No figures on file"),
    "similarity": ("相似度", "Similarity"),
}


def _district(code: str | None, lang: str) -> str | None:
    if not code or code not in regions.DISTRICT_CODES:
        return None
    d = regions.district(code)
    return d.zh if lang == "zh" else d.en


def _reasons(item: dict[str, Any], lang: str) -> list[str]:
    """The item's reasons in ``lang``, without the profile-closeness one (its figure is shown by the name)."""
    return [pick(lang, r["zh"], r["en"]) for r in item["reasons"] if r["code"] != "similar:profile"]


def _words(lang: str, who: Principal) -> dict[str, str]:
    """The panel's words in ``lang``; the help says what the list is ranked by for this viewer (the
    co-investment lift and portfolio-described investors only for the roles that may read investments)."""
    words = {k: pick(lang, zh, en) for k, (zh, en) in WORDS.items()}
    if who.role in READ_ALL:
        words["help_enterprises"], words["help_investors"] = words["help_enterprises_staff"], words[
            "help_investors_staff"]
    return words


def enterprise_panel(state: AppState, conn: Any, who: Principal, enterprise_id: int, lang: str
                     ) -> dict[str, Any] | None:
    """The enterprise card's "相似企业" panel, ``{"error": …}`` in ``lang``, or ``None`` for a key that may not
    ask (another enterprise's card seen by an enterprise key: competitors are its own business)."""
    if who.role == "enterprise" and who.enterprise_id != enterprise_id:
        return None
    words = _words(lang, who)
    try:
        out = service.similar_enterprises(state, conn, who, enterprise_id, K)
    except EXPECTED as exc:
        return {"kind": "enterprises", "words": words, "error": PageError.of(exc).message(lang), "items": []}
    items = []
    for it in out["items"]:
        f = it["figures"]
        chips = [pick(lang, it["industry_zh"], it["industry_en"]), _district(it["district"], lang),
                 vocab.TIERS.label(it["tier"], lang) if it["tier"] in vocab.TIERS else it["tier"]]
        items.append({"id": it["id"], "name": it["name"], "href": f"/web/enterprises/{it['id']}",
                      "chips": [c for c in chips if c], "similarity": it["similarity"],
                      "reasons": _reasons(it, lang),
                      "revenue": None if f is None else f["revenue"], "year": None if f is None else f["year"],
                      "withheld": "financials" in it["withheld"], "no_figures": f is None and not it["withheld"]})
    return {"kind": "enterprises", "words": words, "error": None, "items": items}


def investor_panel(state: AppState, conn: Any, who: Principal, investor_id: int, lang: str) -> dict[str, Any]:
    """The investor page's "相似机构" panel, or ``{"error": …}`` in ``lang``."""
    words = _words(lang, who)
    try:
        out = service.similar_investors(state, conn, who, investor_id, K)
    except EXPECTED as exc:
        return {"kind": "investors", "words": words, "error": PageError.of(exc).message(lang), "items": []}
    items = [{"id": it["id"], "name": it["name"], "href": None,
              "chips": [c for c in (vocab.INVESTOR_TYPES.label(it["investor_type"], lang),
                                    _district(it["district"], lang)) if c],
              "similarity": it["similarity"], "reasons": _reasons(it, lang),
              "revenue": None, "year": None, "withheld": False, "no_figures": False} for it in out["items"]]
    return {"kind": "investors", "words": words, "error": None, "items": items}
