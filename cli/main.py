"""The ``capconnect`` command line: one entry point, one sub-command group per concern."""

from __future__ import annotations

import logging
import os
import sys

import typer

from cli.commands import benchmark, cluster, data, db, demo, encoder, export, keys, match, models, serve, worker

app = typer.Typer(
    name="capconnect",
    help="科创资本通 matching engine: database, market data, encoder, models and service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(encoder.app, name="encoder")
app.add_typer(data.import_app, name="import")
app.add_typer(match.app, name="match")
app.add_typer(benchmark.app, name="benchmark")
app.command("generate")(data.generate)
app.add_typer(export.app, name="export")
app.command("demo")(demo.demo)
app.add_typer(models.app, name="models")
app.add_typer(keys.app, name="keys")
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("train")(models.train)
app.command("evaluate")(models.evaluate)
app.command("dask-local")(cluster.dask_local)


@app.callback()
def _setup(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("alembic", "httpx", "sentence_transformers", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
