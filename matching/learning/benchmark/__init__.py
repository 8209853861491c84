"""What is specific to benchmarking on real investment events: the protocol's candidate sets.

:mod:`~matching.learning.benchmark.adapter` turns an imported market (funnel events of type ``invested``)
into production evaluation sets; :mod:`~matching.learning.benchmark.thin` makes thin slices of a file. The
features, rankers, calibration, served-scorer choice and metrics are the production ones
(:func:`training.pipeline.fit_and_evaluate`, run per cut by :mod:`training.benchmark`). Pure core.
"""
