"""The service's SQL (everything else in ``api/`` speaks Python objects)."""
