"""``capconnect db``: the database server and its schema."""

from __future__ import annotations

import typer

from cli.commands.common import console, database, fail, settings
from store.database import current_revision, embedded_server, head_revision, upgrade

app = typer.Typer(help="Database: migrations and the embedded server.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd() -> None:
    """Apply pending schema migrations (safe to run any number of times)."""
    with database(migrate=False) as db:
        applied = upgrade(db.url)
        console.print(f"schema at revision {current_revision(db.url)} (head {head_revision()})"
                      + ("" if applied else ", nothing to do"))


@app.command("status")
def status() -> None:
    """Show where the database is, its schema revision and row counts."""
    with database() as db:
        console.print(f"database: {db.url}" + (" (embedded)" if db.embedded else ""))
        console.print(f"schema revision: {current_revision(db.url)} (head {head_revision()})")
        with db.connect() as conn:
            for table in ("enterprises", "investors", "mandates", "financing_needs", "secondary_listings",
                          "funnel_events", "served_lists", "model_versions", "api_keys"):
                n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                console.print(f"  {table:<20} {n:>10,}")


@app.command("start")
def start() -> None:
    """Start the embedded server and leave it running (for psql or several commands in a row)."""
    s = settings()
    if s.database_url:
        fail("CAPCONNECT_DATABASE_URL is set: there is no embedded server to start")
    server = embedded_server(s)
    url = server.start()
    upgrade(url)
    console.print(f"embedded PostgreSQL running: {url}\nstop it with `capconnect db stop`")


@app.command("stop")
def stop() -> None:
    """Stop the embedded server."""
    s = settings()
    if s.database_url:
        fail("CAPCONNECT_DATABASE_URL is set: there is no embedded server to stop")
    embedded_server(s).stop()
    console.print("embedded PostgreSQL stopped")
