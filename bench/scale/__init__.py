"""The performance benchmark from 10,000 to 1,000,000 enterprises (``python -m bench.scale``)."""
