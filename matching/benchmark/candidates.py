"""The protocol's candidate sets: who is ranked, for whom, and which pairs are positive.

For a cut at day ``as_of`` and a window ``[as_of, end)``:

* **investors**: every investor with at least ``min_portfolio`` distinct portfolio companies before
  the cut (the ranked side of enterprise → investor, the queries of investor → enterprise);
* **companies**: every company with an investment in the window;
* a pair is **positive** when the investor invested in the company in the window (unit: distinct
  (investor, company) pairs); a pair is in the **portfolio** when it invested before the cut;
* a company is **cold** when it had no investment at all before the cut.

Enterprise → investor ranks *all* eligible investors for each company (a follow-on investor may be
one of them). Investor → enterprise ranks, for each investor, all window companies except its
portfolio. Queries with no positive are left out of the layouts: every metric skips them anyway.

The company's *query round* is its first round in the window (type and amount): the deal it is
raising, known when it asks for investors. Nothing else from the window is used as a feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.benchmark.deals import Deals

#: The protocol's threshold: investors with at least this many portfolio companies are ranked.
MIN_PORTFOLIO = 5


@dataclass(frozen=True)
class Candidates:
    """Investors, companies and pair labels of one cut.

    Attributes:
        as_of: the cut (day number): everything known comes from events before it.
        end: first day after the window.
        investors: eligible investor codes (ascending).
        companies: window company codes (ascending).
        label: ``(n_investors, n_companies)``: invested in the window.
        portfolio: ``(n_investors, n_companies)``: invested before the cut.
        cold: per company, no investment before the cut.
        round: per company, round code of its first round in the window.
        amount: per company, amount of that round (NaN when unknown).
        window_companies: all companies with an investment in the window (also those that no
            eligible investor funded).
    """

    as_of: int
    end: int
    investors: np.ndarray
    companies: np.ndarray
    label: np.ndarray
    portfolio: np.ndarray
    cold: np.ndarray
    round: np.ndarray
    amount: np.ndarray
    window_companies: int


def build_candidates(deals: Deals, as_of: int, end: int, *, min_portfolio: int = MIN_PORTFOLIO) -> Candidates:
    """The candidate sets and labels of the window ``[as_of, end)``.

    Args:
        deals: all events.
        as_of: the cut (day number).
        end: first day after the window (day number).
        min_portfolio: fewest distinct portfolio companies before the cut for an investor to count.

    Raises:
        ValueError: ``end <= as_of`` or ``min_portfolio < 1``.
    """
    if end <= as_of:
        raise ValueError(f"end must be after as_of, got as_of {as_of} and end {end}")
    if min_portfolio < 1:
        raise ValueError(f"min_portfolio must be >= 1, got {min_portfolio}")
    past, win = deals.before(as_of), deals.between(as_of, end)
    n_c = deals.n_companies
    past_pairs = np.unique(deals.inv[past].astype(np.int64) * n_c + deals.comp[past])
    portfolio_size = np.bincount(past_pairs // n_c, minlength=deals.n_investors)
    investors = np.flatnonzero(portfolio_size >= min_portfolio)
    companies = np.unique(deals.comp[win])
    inv_pos = np.full(deals.n_investors, -1, dtype=np.int64)
    inv_pos[investors] = np.arange(len(investors))
    comp_pos = np.full(n_c, -1, dtype=np.int64)
    comp_pos[companies] = np.arange(len(companies))

    label = np.zeros((len(investors), len(companies)), dtype=bool)
    wi, wc = inv_pos[deals.inv[win]], comp_pos[deals.comp[win]]
    keep = wi >= 0
    label[wi[keep], wc[keep]] = True
    portfolio = np.zeros_like(label)
    pi, pc = inv_pos[past_pairs // n_c], comp_pos[past_pairs % n_c]
    keep = (pi >= 0) & (pc >= 0)
    portfolio[pi[keep], pc[keep]] = True

    seen = np.zeros(n_c, dtype=bool)
    seen[deals.comp[past]] = True
    # First round in the window per company: events are sorted by day, so the first occurrence.
    w_comp = deals.comp[win]
    _, first = np.unique(w_comp, return_index=True)  # sorted by company code, like `companies`
    return Candidates(
        as_of=as_of,
        end=end,
        investors=investors,
        companies=companies,
        label=label,
        portfolio=portfolio,
        cold=~seen[companies],
        round=deals.round[win][first].astype(np.int64),
        amount=deals.amount[win][first],
        window_companies=len(companies),
    )


@dataclass(frozen=True)
class Layout:
    """Rows of one direction: query after query, each with its full candidate list.

    Attributes:
        direction: ``"enterprise_to_investor"`` or ``"investor_to_enterprise"``.
        i: per row, index into :attr:`Candidates.investors`.
        j: per row, index into :attr:`Candidates.companies`.
        y: per row, 1 when the pair is positive.
        group: rows per query.
        cold: per row, whether the company is cold.
        query_cold: per query, whether the query is a cold company (enterprise → investor only).
    """

    direction: str
    i: np.ndarray
    j: np.ndarray
    y: np.ndarray
    group: np.ndarray
    cold: np.ndarray
    query_cold: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def select(self, rows: np.ndarray) -> Layout:
        """The rows of a boolean mask, groups re-counted, queries left without rows dropped."""
        rows = np.asarray(rows, dtype=bool)
        qid = np.repeat(np.arange(len(self.group)), self.group)[rows]
        kept, sizes = np.unique(qid, return_counts=True)  # qid ascending: queries stay contiguous
        return Layout(self.direction, self.i[rows], self.j[rows], self.y[rows], sizes.astype(np.int64),
                      self.cold[rows], self.query_cold[kept])


ENT_TO_INV = "enterprise_to_investor"
INV_TO_ENT = "investor_to_enterprise"
DIRECTIONS: tuple[str, ...] = (ENT_TO_INV, INV_TO_ENT)


def layout(cands: Candidates, direction: str) -> Layout:
    """The evaluation rows of ``direction`` (queries with at least one positive).

    Raises:
        ValueError: for an unknown direction.
    """
    n_i, n_c = cands.label.shape
    if direction == ENT_TO_INV:
        queries = np.flatnonzero(cands.label.any(axis=0))
        j = np.repeat(queries, n_i)
        i = np.tile(np.arange(n_i), len(queries))
        group = np.full(len(queries), n_i, dtype=np.int64)
        query_cold = cands.cold[queries]
    elif direction == INV_TO_ENT:
        allowed = ~cands.portfolio
        queries = np.flatnonzero((cands.label & allowed).any(axis=1))
        mask = allowed[queries]
        rows_q, j = np.nonzero(mask)  # row-major: query after query, companies ascending
        i = queries[rows_q]
        group = mask.sum(axis=1).astype(np.int64)
        query_cold = np.zeros(len(queries), dtype=bool)
    else:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got '{direction}'")
    return Layout(direction, i, j, cands.label[i, j].astype(np.int64), group, cands.cold[j], query_cold)
