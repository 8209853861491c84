"""The data-access edge: the embedded PostgreSQL server, migrations and every SQL statement."""
