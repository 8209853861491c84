"""The synthetic market: enterprises, investors, mandates, needs, listings and a funnel history.

``generate_market`` is the core of ``capconnect generate``; see ``matching/synth/README.md`` for
the hidden preference model that produces the funnel.
"""

from matching.synth.generator import CST, Market, generate_market

__all__ = ["CST", "Market", "generate_market"]
