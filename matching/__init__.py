"""科创资本通 matching core: a pure library (no web framework, no database driver).

The package reads as the pipeline: domain vocabulary and validation → profiles → embeddings →
index → candidates → features → ranker → matcher → explanations. I/O lives at the edges
(``capconnect`` for the database and the command line, ``api`` for HTTP).
"""

__version__ = "0.1.0"
