"""Learning and measuring: training rows from the funnel, evaluation, metrics, intervals, model bundles
and the real-data benchmark protocol."""
