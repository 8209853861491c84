"""Scoring candidates: point-in-time history, features, the collaborative model, and the scorers.

Every way of ordering a list implements one interface, :class:`matching.ranking.scorer.Scorer`
(``score(X, side, fit=None)``, ``save``/``load`` with a manifest): the content-rules score and the
servable baselines (:mod:`~matching.ranking.baselines`), the LambdaRank ranker
(:mod:`~matching.ranking.ranker`) and the two-sided scorer (:mod:`~matching.ranking.twosided`), which
serves the scorer chosen on validation (:mod:`~matching.ranking.selection`). Diversity re-ranks the head.
"""
