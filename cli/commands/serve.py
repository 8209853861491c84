"""``capconnect serve [--demo]``: README's main command, the HTTP service.

With ``--demo`` on an empty database it first generates the demo market (5,000 enterprises, 600
investors, 24 months), embeds every profile and mandate into the on-disk cache, trains a first model
and promotes it (when none is active), and creates a demo investor key. A second start reuses all
of it (market in PostgreSQL, embeddings on disk, the active model in ``models/``) and is up in seconds.

The embedded PostgreSQL server, when used, is started here and stays up while the service runs.
It serves with one worker process per core, at least two (``--workers N`` says how many): every worker
loads its own matcher and shares that server, and everything the workers share (rate limits, exposure
counts, the impression log, sessions, jobs) is in the database, so they serve one market (as several
machines over one database do: README, "Several service machines behind a load balancer"); their ``/metrics``
are summed through a shared folder (:func:`shared_metrics_folder`). What this command prints (the model,
the keys per role, the console's address) is printed once, here, before the workers start.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg
import typer
import uvicorn

from cli.commands import data
from cli.commands.common import console, database, fail, settings
from cli.commands.encoder import ensure_encoder
from matching.errors import MatchingError
from store import keys as keys_db
from store import programmes as programmes_db
from store import registry
from store.database import Database

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)


def serve(
    demo: bool = typer.Option(False, "--demo", help="Build the demo market, embeddings and a first model if missing."),
    host: str = typer.Option(None, "--host", help="Interface to listen on (default CAPCONNECT_API_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default CAPCONNECT_API_PORT, 8000)."),
    workers: int = typer.Option(None, "--workers", min=1, max=64, help="Worker processes, each loading the matcher "
                                "(default: one per core, at least 2)."),
) -> None:
    """Serve the matching API (interactive docs at http://HOST:PORT/docs)."""
    from api.logs import configure_logging

    s = settings()
    host, port = host or s.api_host, port or s.api_port
    workers = workers or default_workers()
    with database() as db:
        if demo:
            _prepare_demo(db)
        with db.connect() as conn:
            if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM enterprises)").fetchone()[0]:
                fail("the database holds no market: start with `capconnect serve --demo`, or import one "
                     "(`capconnect import enterprises FILE`, …)")
            active = registry.active_version(conn)
        console.print(f"model: {active.version if active else 'none active: lists ranked by content + rules'}")
        _print_key_hint(db, demo, f"http://{host}:{port}")
        console.print(f"serving on http://{host}:{port} (docs: http://{host}:{port}/docs) with {workers} worker "
                      f"process{'es' if workers > 1 else ''}; Ctrl-C stops")
        configure_logging()
        if workers == 1:
            from api.app import create_app

            uvicorn.run(create_app(s, show_progress=True), host=host, port=port, log_config=None)
        else:  # each worker process builds the app from the same environment (worker_app)
            with shared_metrics_folder():
                uvicorn.run("cli.commands.serve:worker_app", factory=True, host=host, port=port, workers=workers,
                            log_config=None, timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)


@contextmanager
def shared_metrics_folder() -> Iterator[None]:
    """Name a fresh folder in ``PROMETHEUS_MULTIPROC_DIR`` for the workers about to start (they inherit the
    environment), so ``/metrics`` from any worker sums them all (:mod:`api.metrics`); removed afterwards.
    A folder the operator named already is used as it is and kept."""
    from api.metrics import MULTIPROC_ENV

    if settings().metrics_multiproc_dir is not None:
        yield
        return
    folder = tempfile.mkdtemp(prefix="capconnect-metrics-")
    os.environ.update({MULTIPROC_ENV: folder})  # written, for the workers to inherit; read through Settings
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def worker_app() -> FastAPI:
    """The app of one worker process of ``serve --workers N`` (a fresh interpreter): JSON logs, as the parent's."""
    from api.app import create_app
    from api.logs import configure_logging

    configure_logging()
    return create_app()


#: How long uvicorn's supervisor waits for a worker to answer its health check before it kills and replaces it
#: (uvicorn's default, 5 s, is shorter than a worker's start on two busy cores: importing the encoder and mapping
#: the market holds the interpreter for seconds at a time, and the supervisor killed starting workers in a loop).
WORKER_HEALTHCHECK_SECONDS = 90


def default_workers() -> int:
    """One worker process per core this process may run on, at least two (a request never queues behind another
    worker's slow one, and a worker that restarts leaves one serving)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(2, cores)


def _prepare_demo(db: Database) -> None:
    with db.connect() as conn:
        empty = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM enterprises)").fetchone()[0]
    if empty:
        console.print("empty database: generating the demo market (5,000 enterprises, 600 investors, 24 months)")
        data.generate(enterprises=5000, investors=600, months=24, seed=7)
    else:
        console.print("database already holds a market: reusing it")
    with db.connect(autocommit=True) as conn:
        if loaded := programmes_db.load_sample_if_empty(conn):
            console.print(f"{loaded} sample support programmes loaded "
                          "(示例数据，非真实政策 / sample data, not real policy)")
        if registry.active_version(conn) is not None:
            return  # the service embeds through the on-disk cache at start-up (with progress bars)
    s = settings()
    from matching.retrieval.encoder.encoder import load_encoder

    encoder = load_encoder(ensure_encoder())
    from training.pipeline import load_inputs, train

    console.print("no active model: embedding every profile and mandate (cached on disk: a later start encodes only "
                  "new or changed texts), then training the first one")
    with db.connect(autocommit=True) as conn:
        try:
            inputs = load_inputs(s, conn, encoder=encoder, show_progress=True,
                                 progress=lambda m: console.print(f"  {m}"))
            result = train(s, conn, inputs=inputs, progress=lambda m: console.print(f"  {m}"))
            registry.promote(conn, result.version, encoder_id=encoder.encoder_id)
        except (MatchingError, ValueError) as exc:
            console.print(f"[yellow]no model trained ({exc}); lists are ranked by content + rules[/]")
            return
    console.print(f"model {result.version} trained and promoted")


#: The label of the keys ``serve --demo`` creates (``<label> <role>``): found again on a later start.
DEMO_LABEL = "demo (capconnect serve)"
#: The roles that get a demo key, in the order they are printed, with the console page each one opens.
DEMO_ROLES = (("investor", "/web/investor"), ("enterprise", "/web/enterprise"), ("operator", "/web/operator"),
              ("data_scientist", "/web/models"), ("admin", "/web/operator"))


def demo_parties(conn: psycopg.Connection) -> dict[str, tuple[int, str] | None]:
    """The investor (a VC with a sector mandate) and the enterprise (with an open need) the demo keys act for."""
    inv = conn.execute(
        "SELECT i.id, i.name FROM investors i JOIN mandates m ON m.investor_id = i.id AND m.valid_to IS NULL "
        "WHERE i.investor_type = 'vc' AND i.status <> 'inactive' AND cardinality(m.sectors) > 0 "
        "ORDER BY i.id LIMIT 1").fetchone()
    ent = conn.execute(
        "SELECT e.id, e.name FROM enterprises e WHERE e.status = 'active' AND EXISTS (SELECT 1 FROM financing_needs n "
        "WHERE n.enterprise_id = e.id AND n.status = 'open') ORDER BY e.id LIMIT 1").fetchone()
    return {"investor": (inv[0], inv[1]) if inv else None, "enterprise": (ent[0], ent[1]) if ent else None}


def demo_keys(conn: psycopg.Connection) -> list[tuple[str, str | None, str, int | None]]:
    """One sign-in key per role, created once: ``(role, secret or None, shown, party id)`` per role.

    A key this command created on an earlier start (same label, not revoked) is reused: its secret was shown
    then and is not stored (only its hash), so it comes back as ``None`` with its public prefix.
    """
    parties = demo_parties(conn)
    existing = {k.label: k for k in keys_db.list_keys(conn, include_revoked=False)}
    out: list[tuple[str, str | None, str, int | None]] = []
    for role, _ in DEMO_ROLES:
        party = parties.get(role)
        if role in parties and party is None:
            continue  # no such party in this market
        pid = party[0] if party else None
        label = f"{DEMO_LABEL} {role}"
        if (old := existing.get(label)) is not None and old.investor_id in (None, pid) and old.enterprise_id in (
                None, pid):
            out.append((role, None, old.shown, pid))
            continue
        created = keys_db.create_key(conn, role=role, investor_id=pid if role == "investor" else None,
                                     enterprise_id=pid if role == "enterprise" else None, label=label)
        out.append((role, created.secret, created.key.shown, pid))
    return out


def _print_key_hint(db: Database, demo: bool, base: str) -> None:
    with db.connect(autocommit=True) as conn:
        if not demo:
            parties = demo_parties(conn)
            inv = parties["investor"]
            if inv:
                console.print(f"keys: `capconnect keys create --role investor --for {inv[0]}` (e.g. {inv[1]}), "
                              "`capconnect keys create --role admin`")
            console.print(f"console: {base}/web (sign in with a key)")
            return
        keys = demo_keys(conn)
    console.print(f"console: {base}/web — sign in with one of these keys (one per role):")
    pages = dict(DEMO_ROLES)
    for role, secret, shown, pid in keys:
        who = f" for {role} {pid}" if pid else ""
        if secret:
            console.print(f"  {role:<15} {secret}   ({base}{pages[role]}{who}; shown once, not stored)")
        else:
            again = f" --for {pid}" if pid else ""
            console.print(f"  {role:<15} existing key {shown} (its secret was shown when it was created and is not "
                          f"stored); create a new one with `capconnect keys create --role {role}{again}`")
    inv = next(((secret, pid) for role, secret, _, pid in keys if role == "investor" and secret), None)
    if inv:
        console.print(f"try: curl -H 'Authorization: Bearer {inv[0]}' '{base}/v1/investors/{inv[1]}/deals?k=5'")
