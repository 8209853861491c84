"""Edge cases the market generator does not produce, planted into a generated market for constraint tests.

The generator writes no exclusions of enterprises by mandates, no exclusions of investors (by key
or by type) by enterprises, no open-ended ticket ranges and no needs without a round; without them
the constraint tests could not fail on those rules.
"""

from __future__ import annotations

import numpy as np

from matching.domain import vocab
from matching.synth.generator import Market


def plant_edge_cases(m: Market, seed: int) -> Market:
    """Mutate ``m`` in place (records are plain dataclasses) and return it."""
    rng = np.random.default_rng([seed, 4242])
    ent_keys = [e.key for e in m.enterprises]
    inv_keys = [i.key for i in m.investors]
    for man in m.mandates:
        if rng.random() < 0.6:
            k = max(1, len(ent_keys) // 5)
            man.excluded_enterprises = [str(x) for x in rng.choice(ent_keys, size=k, replace=False)]
        r = rng.random()
        if r < 0.15:
            man.ticket_min = None
        elif r < 0.3:
            man.ticket_max = None
    for e in m.enterprises:
        if rng.random() < 0.3:
            e.excluded_investors = [str(x) for x in rng.choice(inv_keys, size=min(5, len(inv_keys)),
                                                                   replace=False)]
        if rng.random() < 0.2:
            e.excluded_investor_types = [str(x) for x in rng.choice(vocab.INVESTOR_TYPES.codes, size=2,
                                                                        replace=False)]
    for n in m.needs:
        if rng.random() < 0.1:
            n.round = None
    return m
