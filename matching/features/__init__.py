"""Pair features: point-in-time history of the funnel, the declared feature table (one declaration, its
hash stored in every model) and the collaborative model. Training, evaluation and serving compute a
pair's features through :func:`matching.features.table.pair_features` only."""
