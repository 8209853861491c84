"""Point-in-time features of (investor, company) pairs for the real-data benchmark.

Every feature is computed from events strictly before the cut (``Candidates.as_of``), plus the
company's query round (type and amount of its first round in the window: the deal it is raising).
Nothing else from the window, and nothing from the companies file's end-of-export columns, is read:
a test plants a later event and checks that no feature moves.

Features come in three kinds, stored once and gathered per row (:meth:`FeatureCube.gather`):
investor-level vectors, company-level vectors and pair matrices ``(n_investors, n_companies)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from matching.benchmark.candidates import Candidates
from matching.benchmark.deals import Deals

YEAR = 365
#: Smoothing of the affinity product (the published baseline's).
AFFINITY_SMOOTHING = 0.01

#: (name, kind, meaning); kind is "investor", "company" or "pair". The order is the model's.
FEATURES: tuple[tuple[str, str, str], ...] = (
    ("inv_log_companies", "investor", "log(1 + distinct portfolio companies)"),
    ("inv_log_recent", "investor", "log(1 + distinct companies funded in the last year)"),
    ("inv_decayed", "investor", "investments weighted exp(-age / 1 year)"),
    ("inv_log_days_idle", "investor", "log(1 + days since its last investment)"),
    ("inv_years_active", "investor", "years between first and last investment"),
    ("inv_corporate", "investor", "1 for a corporate investor"),
    ("inv_log_amount", "investor", "median log round amount of its investments"),
    ("comp_cold", "company", "1 when the company was never funded before"),
    ("comp_prev_rounds", "company", "distinct earlier funding days"),
    ("comp_log_prev_investors", "company", "log(1 + distinct earlier investors)"),
    ("comp_log_days_since", "company", "log(1 + days since its last earlier round); NaN when cold"),
    ("comp_round", "company", "round code of the query round (categorical)"),
    ("comp_log_amount", "company", "log amount of the query round; NaN when unknown"),
    ("comp_category_trend", "company", "share of last year's funded companies in its category"),
    ("comp_state_trend", "company", "share of last year's funded companies in its state"),
    ("share_category", "pair", "investor's share of portfolio companies in the company's category"),
    ("share_state", "pair", "investor's share of portfolio companies in the company's state"),
    ("share_city", "pair", "investor's share of portfolio companies in the company's city"),
    ("share_round", "pair", "investor's share of its rounds of the query round's type"),
    ("share_category_recent", "pair", "share of the last two years' portfolio in the company's category"),
    ("log_affinity", "pair", "log of n * (share_category+s)(share_state+s)(share_round+s): the affinity baseline"),
    ("category_similarity", "pair", "portfolio categories' cosine to the company's category"),
    ("same_state", "pair", "1 when investor and company are in the same state"),
    ("prior_rounds", "pair", "rounds of this company the investor already joined"),
    ("log_coinvest", "pair", "log(1 + co-investments of the investor with the company's earlier investors)"),
    ("coinvestors", "pair", "earlier investors of the company the investor has co-invested with"),
    ("coinvest_share", "pair", "coinvestors / earlier investors of the company"),
    ("amount_gap", "pair", "|query round log amount - investor's median log amount|"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f[0] for f in FEATURES)
CATEGORICAL: tuple[str, ...] = ("comp_round",)


@dataclass(frozen=True)
class FeatureCube:
    """Features of every (eligible investor, window company) pair of one cut.

    Attributes:
        investor: name → vector over ``Candidates.investors``.
        company: name → vector over ``Candidates.companies``.
        pair: name → matrix ``(n_investors, n_companies)``.
    """

    investor: dict[str, np.ndarray]
    company: dict[str, np.ndarray]
    pair: dict[str, np.ndarray]

    def column(self, name: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """One feature for the rows ``(i, j)``.

        Raises:
            KeyError: for a name not in :data:`FEATURE_NAMES`.
        """
        if name in self.pair:
            return self.pair[name][i, j]
        if name in self.investor:
            return self.investor[name][i]
        if name in self.company:
            return self.company[name][j]
        raise KeyError(f"unknown feature '{name}'; known: {', '.join(FEATURE_NAMES)}")

    def gather(self, i: np.ndarray, j: np.ndarray, names: tuple[str, ...] = FEATURE_NAMES) -> np.ndarray:
        """The feature matrix ``(len(i), len(names))`` (float32) of the rows ``(i, j)``."""
        X = np.empty((len(i), len(names)), dtype=np.float32)
        for col, name in enumerate(names):
            X[:, col] = self.column(name, i, j)
        return X


def _log1p(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.asarray(x, dtype=np.float64)).astype(np.float32)


def _counts(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.float64)
    np.add.at(out, (rows, cols), 1.0)
    return out


def build_features(deals: Deals, cands: Candidates) -> FeatureCube:
    """Compute every feature of :data:`FEATURES` for the cut's candidates, point in time.

    Args:
        deals: all events (only those before ``cands.as_of`` are read, plus the query rounds
            already in ``cands``).
        cands: the cut's candidate sets.
    """
    as_of = cands.as_of
    past = deals.before(as_of)
    inv, comp, day = deals.inv[past], deals.comp[past], deals.day[past]
    rnd, amt = deals.round[past], deals.amount[past]
    n_c, n_inv_all = deals.n_companies, deals.n_investors
    E, C = cands.investors, cands.companies
    e_pos = np.full(n_inv_all, -1, dtype=np.int64)
    e_pos[E] = np.arange(len(E))

    # Distinct portfolio pairs (every investor) and those of eligible investors.
    pairs = np.unique(inv.astype(np.int64) * n_c + comp)
    p_inv, p_comp = pairs // n_c, pairs % n_c
    pe = e_pos[p_inv]
    m = pe >= 0
    pe, pc = pe[m], p_comp[m]
    n_e = np.maximum(np.bincount(pe, minlength=len(E)), 1).astype(np.float64)

    investor = _investor_features(deals, E, e_pos, inv, comp, day, amt, as_of, n_e)
    company = _company_features(deals, cands, inv, comp, day, as_of)

    cat, state, city = deals.comp_category, deals.comp_state, deals.comp_city
    c_cat, c_state, c_city = cat[C], state[C], city[C]
    pair: dict[str, np.ndarray] = {}

    cnt_cat = _counts(pe, cat[pc], (len(E), len(deals.categories)))
    share_cat = cnt_cat / n_e[:, None]
    pair["share_category"] = share_cat[:, c_cat].astype(np.float32)
    pair["share_state"] = (_counts(pe, state[pc], (len(E), len(deals.states))) / n_e[:, None])[:, c_state].astype(
        np.float32)
    pair["share_city"] = (_counts(pe, city[pc], (len(E), len(deals.cities))) / n_e[:, None])[:, c_city].astype(
        np.float32)

    # Round shares over distinct (investor, company, round) triples.
    triples = np.unique(np.stack([inv.astype(np.int64), comp.astype(np.int64), rnd.astype(np.int64)]), axis=1)
    te = e_pos[triples[0]]
    tm = te >= 0
    cnt_round = _counts(te[tm], triples[2][tm], (len(E), int(deals.round.max(initial=0)) + 1))
    n_rounds = np.maximum(cnt_round.sum(axis=1), 1.0)
    round_idx = np.minimum(cands.round, cnt_round.shape[1] - 1)
    pair["share_round"] = (cnt_round / n_rounds[:, None])[:, round_idx].astype(np.float32)

    # Recent taste: the last two years of the portfolio (pairs whose latest event is recent).
    recent = _recent_pairs(inv, comp, day, as_of - 2 * YEAR, n_c)
    re_ = e_pos[recent // n_c]
    rm = re_ >= 0
    cnt_recent = _counts(re_[rm], cat[recent[rm] % n_c], (len(E), len(deals.categories)))
    pair["share_category_recent"] = (cnt_recent / np.maximum(cnt_recent.sum(axis=1), 1.0)[:, None])[:, c_cat].astype(
        np.float32)

    s = AFFINITY_SMOOTHING
    pair["log_affinity"] = (
        np.log(n_e)[:, None]
        + np.log(pair["share_category"] + s)
        + np.log(pair["share_state"] + s)
        + np.log(pair["share_round"] + s)
    ).astype(np.float32)

    # Category similarity: cosine of categories over all investors' portfolios (before the cut).
    all_cnt = _counts(p_inv, cat[p_comp], (n_inv_all, len(deals.categories)))
    norm = np.linalg.norm(all_cnt, axis=0)
    unit = all_cnt / np.where(norm > 0, norm, 1.0)
    cos = unit.T @ unit
    pair["category_similarity"] = (share_cat @ cos)[:, c_cat].astype(np.float32)

    i_state = deals.inv_state[E]
    pair["same_state"] = ((i_state[:, None] == c_state[None, :]) & (c_state[None, :] > 0)).astype(np.float32)

    # Rounds of this company the investor already joined (distinct days).
    c_pos = np.full(n_c, -1, dtype=np.int64)
    c_pos[C] = np.arange(len(C))
    ev_e, ev_c = e_pos[inv], c_pos[comp]
    em = (ev_e >= 0) & (ev_c >= 0)
    days = np.unique(np.stack([ev_e[em], ev_c[em], day[em]]), axis=1)
    prior = np.zeros((len(E), len(C)), dtype=np.float32)
    np.add.at(prior, (days[0], days[1]), 1.0)
    pair["prior_rounds"] = prior

    pair.update(_coinvest(E, C, p_inv, p_comp, n_c, n_inv_all, company["comp_log_prev_investors"]))

    gap = np.abs(company["comp_log_amount"][None, :] - investor["inv_log_amount"][:, None])
    pair["amount_gap"] = gap.astype(np.float32)
    return FeatureCube(investor=investor, company=company, pair=pair)


def _recent_pairs(inv: np.ndarray, comp: np.ndarray, day: np.ndarray, since: int, n_c: int) -> np.ndarray:
    m = day >= since
    return np.unique(inv[m].astype(np.int64) * n_c + comp[m])


def _investor_features(deals: Deals, E: np.ndarray, e_pos: np.ndarray, inv: np.ndarray, comp: np.ndarray,
                       day: np.ndarray, amt: np.ndarray, as_of: int, n_e: np.ndarray) -> dict[str, np.ndarray]:
    n_c = deals.n_companies
    ee = e_pos[inv]
    m = ee >= 0
    ee, d, a = ee[m], day[m], amt[m]
    recent = _recent_pairs(inv, comp, day, as_of - YEAR, n_c)
    r_e = e_pos[recent // n_c]
    n_recent = np.bincount(r_e[r_e >= 0], minlength=len(E))
    decayed = np.bincount(ee, weights=np.exp(-(as_of - d) / YEAR), minlength=len(E))
    last = np.full(len(E), -(10**9), dtype=np.int64)
    np.maximum.at(last, ee, d)
    first = np.full(len(E), 10**9, dtype=np.int64)
    np.minimum.at(first, ee, d)
    corporate = deals.investor_types.index("corporate") if "corporate" in deals.investor_types else -1
    # Median log amount per investor: sort by (investor, amount) and take the middle element.
    known = ~np.isnan(a)
    ke, ka = ee[known], np.log1p(a[known])
    order = np.lexsort((ka, ke))
    ke, ka = ke[order], ka[order]
    counts = np.bincount(ke, minlength=len(E))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    median = np.full(len(E), np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    median[has] = (ka[lo] + ka[hi]) / 2.0
    return {
        "inv_log_companies": _log1p(n_e),
        "inv_log_recent": _log1p(n_recent),
        "inv_decayed": decayed.astype(np.float32),
        "inv_log_days_idle": _log1p(as_of - last),
        "inv_years_active": ((last - first) / YEAR).astype(np.float32),
        "inv_corporate": (deals.inv_type[E] == corporate).astype(np.float32),
        "inv_log_amount": median.astype(np.float32),
    }


def _company_features(deals: Deals, cands: Candidates, inv: np.ndarray, comp: np.ndarray, day: np.ndarray,
                      as_of: int) -> dict[str, np.ndarray]:
    C, n_c = cands.companies, deals.n_companies
    span = int(day.max(initial=0) - day.min(initial=0)) + 1
    rounds = np.unique(comp.astype(np.int64) * span + (day - day.min(initial=0)))  # distinct (company, day)
    n_rounds = np.bincount(rounds // span, minlength=n_c)
    investors = np.unique(comp.astype(np.int64) * deals.n_investors + inv)
    n_investors = np.bincount(investors // deals.n_investors, minlength=n_c)
    last = np.full(n_c, -1, dtype=np.int64)
    np.maximum.at(last, comp, day)
    since = np.where(last[C] >= 0, np.log1p(as_of - last[C]), np.nan)

    recent = day >= as_of - YEAR
    funded = np.unique(comp[recent])
    cat_trend = np.bincount(deals.comp_category[funded], minlength=len(deals.categories)) / max(len(funded), 1)
    state_trend = np.bincount(deals.comp_state[funded], minlength=len(deals.states)) / max(len(funded), 1)
    return {
        "comp_cold": cands.cold.astype(np.float32),
        "comp_prev_rounds": n_rounds[C].astype(np.float32),
        "comp_log_prev_investors": _log1p(n_investors[C]),
        "comp_log_days_since": since.astype(np.float32),
        "comp_round": cands.round.astype(np.float32),
        "comp_log_amount": np.log1p(cands.amount).astype(np.float32),
        "comp_category_trend": cat_trend[deals.comp_category[C]].astype(np.float32),
        "comp_state_trend": state_trend[deals.comp_state[C]].astype(np.float32),
    }


def _coinvest(E: np.ndarray, C: np.ndarray, p_inv: np.ndarray, p_comp: np.ndarray, n_c: int, n_inv_all: int,
              log_prev_investors: np.ndarray) -> dict[str, np.ndarray]:
    """Co-investment of each eligible investor with each window company's earlier investors."""
    A = sparse.csr_matrix((np.ones(len(p_inv)), (p_comp, p_inv)), shape=(n_c, n_inv_all))  # company × investor
    W = (A[:, E].T @ A).tocoo()  # eligible investor × investor: shared portfolio companies
    off = W.col != E[W.row]  # an investor does not co-invest with itself
    W = sparse.csr_matrix((W.data[off], (W.row[off], W.col[off])), shape=W.shape)
    B = A[C]  # window company × its earlier investors
    total = np.asarray((W @ B.T).todense(), dtype=np.float64)
    linked = np.asarray((W.sign() @ B.T).todense(), dtype=np.float64)
    n_prev = np.expm1(log_prev_investors.astype(np.float64))
    return {
        "log_coinvest": _log1p(total),
        "coinvestors": linked.astype(np.float32),
        "coinvest_share": (linked / np.maximum(n_prev, 1.0)[None, :]).astype(np.float32),
    }
