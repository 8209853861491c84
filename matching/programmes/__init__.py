"""Support programmes (扶持政策) matched to enterprises: a core step after the rules.

``Programme`` (the record, :mod:`matching.domain.programme`) holds a programme's issuer, kind, amounts,
dates and eligibility rules; :mod:`matching.programmes.eligibility` checks the rules over every
enterprise at once (qualifies, near miss, what is missing) and :mod:`matching.programmes.wording` words
what is missing in Chinese and English. ``sample_programmes.csv`` is demonstration data (示例, not real
policy) that ``capconnect serve --demo`` loads. Reading files is :mod:`matching.ingest.parse_programmes`'s;
storing and notices are :mod:`store.programmes`'.
"""

from pathlib import Path

from matching.domain.programme import Programme
from matching.programmes.eligibility import (
    NEAR_MARGIN,
    EnterpriseColumns,
    Missing,
    ProgrammeEligibility,
    evaluate,
    evaluate_all,
)

#: The demonstration programmes (sample data, not real policy).
SAMPLE_FILE = Path(__file__).with_name("sample_programmes.csv")

__all__ = ["NEAR_MARGIN", "SAMPLE_FILE", "EnterpriseColumns", "Missing", "Programme", "ProgrammeEligibility",
           "evaluate", "evaluate_all"]
