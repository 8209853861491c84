"""An embedded PostgreSQL server: the project's own cluster under its data directory.

Used whenever no ``CAPCONNECT_DATABASE_URL`` is set. The cluster is created on first use
(``initdb``), started on demand and stopped by whoever started it. Data persists between runs.

PostgreSQL refuses to run as root. When this process is root, the server binaries run as the
unprivileged ``postgres`` OS user (which Debian's packages create) and the cluster directory is
handed to that user. A file lock serialises concurrent starts of the same cluster.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

DB_NAME = "capconnect"
DB_USER = "capconnect"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them "
    "(Debian/Ubuntu: `apt-get install postgresql`; they land in /usr/lib/postgresql/<version>/bin), "
    "or point CAPCONNECT_PG_BIN_DIR at the directory holding initdb, "
    "or set CAPCONNECT_DATABASE_URL to an existing server."
)


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be created or started; the message says what to do."""


def find_bin_dir(explicit: Path | None = None) -> Path:
    """Locate the directory holding ``initdb`` and ``pg_ctl``.

    Order: the explicit setting, ``pg_config --bindir``, the newest ``/usr/lib/postgresql/*/bin``,
    then ``PATH``.

    Raises:
        EmbeddedPostgresError: with installation instructions when none is found.
    """
    candidates: list[Path] = []
    if explicit is not None:
        candidates.append(explicit)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10)
            candidates.append(Path(out.stdout.strip()))
        except (subprocess.SubprocessError, OSError):
            pass
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p), reverse=True)
    candidates.extend(Path(p) for p in versions)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "pg_ctl").is_file():
            return cand
    if explicit is not None:
        raise EmbeddedPostgresError(f"CAPCONNECT_PG_BIN_DIR={explicit} holds no initdb/pg_ctl. " + INSTALL_HINT)
    raise EmbeddedPostgresError(INSTALL_HINT)


def _version_key(path: str) -> tuple[int, ...]:
    part = Path(path).parent.name
    return tuple(int(x) for x in part.split(".") if x.isdigit()) or (0,)


class EmbeddedPostgres:
    """A PostgreSQL cluster owned by the project.

    Args:
        root: directory of the cluster (``<data_dir>/pg``); created if missing.
        port: TCP port on 127.0.0.1.
        bin_dir: directory holding the server binaries (found automatically when ``None``).
    """

    def __init__(self, root: Path, *, port: int, bin_dir: Path | None = None) -> None:
        self.root = root
        self.pgdata = root / "data"
        self.logfile = root / "server.log"
        self.port = port
        self._bin_dir = bin_dir
        self.started_here = False

    @property
    def url(self) -> str:
        """The libpq URL of the project database on this server."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def admin_url(self, dbname: str = "postgres") -> str:
        """A URL to another database of the same server (for creating databases)."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> str:
        """Create the cluster if needed, start it unless it already runs; return :attr:`url`."""
        bin_dir = find_bin_dir(self._bin_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(bin_dir)
            if self._running(bin_dir):
                logger.info("embedded PostgreSQL already running on port %s", self.port)
            else:
                self._start(bin_dir)
                self.started_here = True
        self._ensure_database()
        return self.url

    def stop(self) -> None:
        """Stop the server (fast shutdown: open transactions roll back, data stays)."""
        bin_dir = find_bin_dir(self._bin_dir)
        with self._lock():
            if self._running(bin_dir):
                self._run([str(bin_dir / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop"])
                logger.info("embedded PostgreSQL stopped")
        self.started_here = False

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started_here:
            self.stop()

    # -- internals -----------------------------------------------------------------------------
    def _initdb(self, bin_dir: Path) -> None:
        logger.info("creating PostgreSQL cluster in %s", self.pgdata)
        tmp = self.root / "data.init"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(mode=0o700)
        self._give_to_server_user(self.root, tmp)
        self._run([str(bin_dir / "initdb"), "-D", str(tmp), "-U", DB_USER, "--auth=trust", "-E", "UTF8",
                   "--no-locale", "--no-instructions"])
        with open(tmp / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                "\n# capconnect embedded server\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                "timezone = 'UTC'\nmax_connections = 200\nshared_buffers = 256MB\nfsync = on\n"
            )
        tmp.rename(self.pgdata)  # atomic: a killed initdb never leaves a half cluster behind

    def _start(self, bin_dir: Path) -> None:
        if _port_busy(self.port):
            raise EmbeddedPostgresError(
                f"port {self.port} on 127.0.0.1 is taken by another program; set CAPCONNECT_PG_PORT to a free "
                "port, or CAPCONNECT_DATABASE_URL to use that server"
            )
        self._give_to_server_user(self.root, self.logfile)
        try:
            self._run([str(bin_dir / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.logfile), "-w", "-t", "60",
                       "-o", f"-p {self.port}", "start"])
        except EmbeddedPostgresError as exc:
            tail = self.logfile.read_text(errors="replace")[-1500:] if self.logfile.exists() else ""
            raise EmbeddedPostgresError(f"{exc}\nserver log ({self.logfile}):\n{tail}") from None
        logger.info("embedded PostgreSQL started on 127.0.0.1:%s (%s)", self.port, self.pgdata)

    def _running(self, bin_dir: Path) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        res = subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(self.pgdata), "status"], capture_output=True,
                             text=True, **self._as_server_user())
        return res.returncode == 0

    def _ensure_database(self) -> None:
        import psycopg

        for attempt in range(50):
            try:
                with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=5) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
                    if not exists:
                        conn.execute(f"CREATE DATABASE {DB_NAME}")
                return
            except psycopg.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.1)

    def _run(self, argv: list[str]) -> None:
        res = subprocess.run(argv, capture_output=True, text=True, **self._as_server_user())
        if res.returncode != 0:
            raise EmbeddedPostgresError(
                f"`{Path(argv[0]).name} {' '.join(argv[1:])}` failed "
                f"(exit {res.returncode}): {res.stderr.strip() or res.stdout.strip()}"
            )

    def _as_server_user(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        user = _server_user()
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "cwd": "/"}

    def _give_to_server_user(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        user = _server_user()
        for path in paths:
            if not path.exists():
                path.touch()
            os.chown(path, user.pw_uid, user.pw_gid)
        # The server user must be able to reach the cluster through every parent directory.
        for parent in self.root.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise EmbeddedPostgresError(
                    f"the postgres OS user cannot enter {parent} (mode {oct(mode & 0o777)}); choose a data "
                    "directory under a world-searchable path with CAPCONNECT_DATA_DIR, or `chmod o+x` it"
                )

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise EmbeddedPostgresError(
            "running as root, and PostgreSQL refuses to run as root; no unprivileged 'postgres' OS user exists. "
            "Install the server package (`apt-get install postgresql`, which creates it), run as a normal user, "
            "or set CAPCONNECT_DATABASE_URL."
        ) from None


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for throwaway test servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
