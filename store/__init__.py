"""The one SQL layer (psycopg 3 and Alembic): market, lists, impressions, events, keys, sessions,
registry, jobs, rate limits, migrations and the embedded server. Nothing above it writes SQL."""
