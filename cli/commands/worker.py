"""``capconnect worker [--once]``: the retraining worker, a process of its own beside the service.

It runs the jobs ``POST /v1/models/retrain`` queues (:mod:`training.worker`); ``./scripts/run`` starts one
beside the service and stops it with the service. ``--once`` runs what is queued and exits; without it the
worker waits for jobs until SIGTERM (or Ctrl-C). A job running when the worker is stopped ends as failed.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from cli.commands.common import console, database, settings


def worker(
    once: bool = typer.Option(False, "--once", help="Run the queued jobs, then exit."),
    poll_seconds: float = typer.Option(5.0, "--poll-seconds", min=0.1,
                                       help="How often to look for jobs when no notice came."),
) -> None:
    """Run retraining jobs queued through the API (POST /v1/models/retrain), outside the service."""
    from training.worker import Worker, WorkerStopped

    s = settings()
    with database(migrate=once) as db:  # beside the service, the service migrates
        work = Worker(s, db.url)
        if once:
            ran = work.run_once()
            console.print(f"{ran} retraining job(s) run")
            return
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()
            work.interrupt()  # raises here: a running job ends as failed, a wait ends at once

        signal.signal(signal.SIGTERM, on_signal)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # started in the background by a script: ignored
            signal.signal(signal.SIGINT, on_signal)
        console.print(f"retraining worker waiting for jobs (every {poll_seconds:g} s or on notice); SIGTERM stops it")
        try:
            work.run(stop, poll_seconds)
        except WorkerStopped:
            pass
        console.print("retraining worker stopped")
