"""The synthetic market: enterprises, investors, mandates, needs, listings and a funnel history.

``generate_market`` is the core of ``capconnect generate``; see ``matching/market/README.md`` for
the hidden preference model that produces the funnel.
"""

from matching.market.generator import CST, Market, generate_market

__all__ = ["CST", "Market", "generate_market"]
