"""The market's vocabulary and the pure validation every edge (CLI, import, API) shares.

``vocab``, ``regions``, ``industries`` and ``credit_code`` read one field; ``crossfield`` decides the
rules that tie two fields of a record together (a state fund's level, a ticket range, a need's dates, what
a secondary listing must name), which the importer and the API each word for their audience; ``records``
holds the validated records; ``sides`` the two sides of the market.
"""
