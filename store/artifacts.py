"""Model versions' files in PostgreSQL (``model_artifacts``, migration 0011), so that every service machine can serve
the version the registry names, whatever machine trained it.

A version is written to ``models_dir/<version>`` on the machine that trains it (``capconnect worker``,
``capconnect train``) and registered with that path; :func:`store.registry.register` also keeps the folder here,
as one gzip'd tar archive with its SHA-256. A service machine with a data folder of its own loads
:func:`local_folder`: the registered path when this machine has it, else ``models_dir/<version>`` unpacked from
the archive once (into a temporary folder renamed into place, so two workers unpacking at once never see half a
folder). The bundle's own manifest still verifies every file when it is loaded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

import psycopg

from matching.errors import ArtifactError

logger = logging.getLogger(__name__)

def pack(folder: Path) -> bytes:
    """``folder``'s files as a gzip'd tar, paths relative to it, in name order (all of them: the manifest
    verifies every file, the report's figures included)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if not path.is_file():
                continue
            tar.add(path, arcname=rel.as_posix(), recursive=False)
    return buf.getvalue()


def save(conn: psycopg.Connection, version: str, folder: Path) -> int:
    """Keep ``folder`` as the files of ``version`` (in the caller's transaction). Returns the archive's size."""
    archive = pack(Path(folder))
    conn.execute("INSERT INTO model_artifacts (version, archive, sha256) VALUES (%s, %s, %s) "
                 "ON CONFLICT (version) DO UPDATE SET archive = EXCLUDED.archive, sha256 = EXCLUDED.sha256",
                 (version, archive, hashlib.sha256(archive).hexdigest()))
    return len(archive)


def local_folder(conn: psycopg.Connection, version: str, registered: str, models_dir: Path) -> Path:
    """The folder to load ``version`` from on this machine: ``registered`` when it exists here, else
    ``models_dir/<version>``, unpacked from the database when it is not there yet.

    A version with no archive (registered before migration 0011) and no folder here returns the registered path,
    which the loader then refuses, naming it.

    Raises:
        ArtifactError: the stored archive does not match its SHA-256, cannot be read, or names a path outside
            its folder.
    """
    if Path(registered).is_dir():
        return Path(registered)
    target = Path(models_dir) / version
    if target.is_dir():
        return target
    row = conn.execute("SELECT archive, sha256 FROM model_artifacts WHERE version = %s", (version,)).fetchone()
    if row is None:
        return Path(registered)
    archive, digest = bytes(row[0]), row[1]
    if hashlib.sha256(archive).hexdigest() != digest:
        raise ArtifactError(f"model_artifacts: the archive of {version} does not match its sha256 {digest}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                tar.extractall(tmp, filter="data")  # refuses absolute paths, '..' and links out of the folder
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArtifactError(f"model_artifacts: the archive of {version} cannot be unpacked: "
                                f"{type(exc).__name__}: {exc}") from exc
        try:
            os.rename(tmp, target)
        except OSError:  # another worker unpacked it first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("model %s unpacked from the database into %s (%d bytes)", version, target, len(archive))
    return target
