"""Learning and measuring: training rows from the funnel, evaluation, ranking metrics, exposure
measures, intervals, model bundles and the real-data benchmark protocol."""
