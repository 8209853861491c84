"""``capconnect demo``: README's main command until the service lands.

On an empty database it generates the demo market (5,000 enterprises, 600 investors, 24 months)
and loads it; a second run reuses it. Either way it prints a summary of the market.
"""

from __future__ import annotations

import typer
from rich.table import Table

from cli.commands import data
from cli.commands.common import console, database
from store import summary


def demo(
    enterprises: int = typer.Option(5000, "--enterprises", help="Demo market size (enterprises)."),
    investors: int = typer.Option(600, "--investors", help="Demo market size (investors)."),
    months: int = typer.Option(24, "--months", help="Months of funnel history."),
    seed: int = typer.Option(7, "--seed", help="Generator seed."),
) -> None:
    """Build the demo market in the embedded database (first run) and print its summary."""
    with database() as db:
        with db.connect() as conn:
            empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM enterprises)").fetchone()[0]
    if empty:
        console.print(f"empty database: generating the demo market ({enterprises:,} enterprises, "
                      f"{investors:,} investors, {months} months)")
        data.generate(enterprises=enterprises, investors=investors, months=months, seed=seed)
    else:
        console.print("database already holds a market: reusing it")
    with database() as db, db.connect() as conn:
        s = summary.market_summary(conn)
    for title, rows in s.items():
        table = Table(title=title, title_justify="left")
        table.add_column("")
        table.add_column("count", justify="right")
        for label, n in rows:
            table.add_row(label, f"{n:,}")
        console.print(table)
    console.print("next: `capconnect serve --demo` starts the service and prints the console's address "
                  "(http://127.0.0.1:8000/web) with one sign-in key per role; `capconnect match deals <investor id>` "
                  "prints a ranked, explained deal list here (the first call embeds every profile: a few minutes on "
                  "2 cores, cached afterwards)")
