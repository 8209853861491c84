"""Scoring candidates: point-in-time history, features, the collaborative model, the rankers,
the two-sided score, the served-scorer choice and diversity."""
