"""The application shell: settings, database, imports and the `capconnect` command line (I/O at the edges)."""
