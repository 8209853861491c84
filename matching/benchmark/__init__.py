"""The real-data benchmark: the protocol of ``shared/data/crunchbase-2013/README.md`` on any deal data.

Pipeline: :mod:`~matching.benchmark.deals` (events as columns) → :mod:`~matching.benchmark.candidates`
(who is ranked for whom, labels) → :mod:`~matching.benchmark.features` (point-in-time) →
:mod:`~matching.benchmark.baselines` and :mod:`~matching.benchmark.model` (LambdaRank) →
:mod:`~matching.benchmark.protocol` (one cut, every metric, both directions, cold start).
Pure core: no database, no HTTP.
"""
