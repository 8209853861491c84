"""``capconnect dask-local``: a Dask cluster on this machine (a scheduler and N worker processes).

Training sends its batch work to the cluster ``CAPCONNECT_DASK_SCHEDULER`` (or ``capconnect train
--dask-scheduler``) names. On several machines, start ``dask scheduler`` on one and ``dask worker
tcp://<scheduler>:8786`` on each (README: running on a cluster); this command is the one-machine
version, for trying it out and for the benchmark. Dask is imported only when it runs.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from cli.commands.common import console


def dask_local(
    workers: int = typer.Option(2, "--workers", min=1, help="Worker processes."),
    threads: int = typer.Option(1, "--threads", min=1, help="Threads per worker (LightGBM and torch use them)."),
    memory_limit: str = typer.Option("4GiB", "--memory-limit", help="Memory per worker (Dask's own limit)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface the scheduler listens on."),
    port: int = typer.Option(8786, "--port", min=0, max=65535, help="Scheduler port (0: any free one)."),
) -> None:
    """Start a Dask scheduler and worker processes here; training uses it when CAPCONNECT_DASK_SCHEDULER names it."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, memory_limit=memory_limit,
                           host=host, scheduler_port=port, dashboard_address=None)
    address = cluster.scheduler_address
    console.print(f"Dask scheduler at [bold]{address}[/] with {workers} worker process(es) x {threads} thread(s)")
    console.print(f"train on it: CAPCONNECT_DASK_SCHEDULER={address} capconnect train  "
                  f"(or capconnect train --dask-scheduler {address}); SIGTERM or Ctrl-C stops it")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stop.wait()
    finally:
        cluster.close()
        console.print("Dask cluster stopped")
