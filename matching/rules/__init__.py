"""The hard rules and who may see what.

* :mod:`~matching.rules.constraints`: :func:`~matching.rules.constraints.violations`, the reference (one
  pair, each broken rule named), and the one "need still open at t" predicate;
* :mod:`~matching.rules.eligibility`: the one vectorised implementation of the same rules (serving,
  training and evaluation call it), and the per-snapshot :class:`~matching.rules.eligibility.Eligibility` index;
* :mod:`~matching.rules.fit`: the one structured mandate fit;
* :mod:`~matching.rules.liveneeds`, :mod:`~matching.rules.static`: fast paths (amount-sorted live needs
  for serving, per-snapshot tables for training periods) over that implementation;
* :mod:`~matching.rules.filters`: a caller's filters (they narrow, never loosen);
* :mod:`~matching.rules.event_visibility`, :mod:`~matching.rules.listing_visibility`: who sees which
  events and listings.
"""
