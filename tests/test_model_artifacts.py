"""A model version trained on one machine serves on another: its files are kept in PostgreSQL at registration
(``model_artifacts``, :mod:`store.artifacts`) and unpacked by a machine whose data folder lacks them."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers_api import ApiEnv, api_service

from api.loader import load_matcher
from matching.errors import ArtifactError
from matching.ranking.bundle import ModelBundle
from store import artifacts, registry
from training import pipeline


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    with api_service(pg_admin_url, tmp_path_factory.mktemp("artifacts")) as env:
        yield env


@pytest.fixture(scope="module")
def trained(api: ApiEnv) -> ModelBundle:
    with api.db.connect(autocommit=True) as conn:
        return pipeline.train(api.settings, conn, seed=0, version="v1", encoder=api.encoder, show_progress=False)


def test_a_version_trained_elsewhere_is_unpacked_verified_and_served(api: ApiEnv, trained: ModelBundle,
                                                                    tmp_path: Path) -> None:
    stored = api.sql("SELECT octet_length(archive), sha256 FROM model_artifacts WHERE version = 'v1'")
    assert len(stored) == 1 and stored[0][0] > 1000
    other = tmp_path / "machine-b" / "models"  # the second machine's data folder: no v1 in it
    with api.db.connect(autocommit=True) as conn:  # registered on machine a, at a path machine b does not have
        conn.execute("UPDATE model_versions SET path = '/machine-a/models/v1' WHERE version = 'v1'")
        registry.activate(conn, "v1")
        try:
            loaded = load_matcher(api.settings.model_copy(update={"models_dir": other}), conn, api.encoder)
            assert loaded.model.version == "v1" and loaded.model.error is None
            assert (other / "v1" / "manifest.json").is_file()
            assert artifacts.local_folder(conn, "v1", "/machine-a/models/v1", other) == other / "v1"  # once
        finally:
            conn.execute("UPDATE model_versions SET path = %s, status = 'candidate', activated_at = NULL "
                         "WHERE version = 'v1'", (str(trained.folder),))
    for f in trained.folder.rglob("*"):
        if f.is_file():
            assert (other / "v1" / f.relative_to(trained.folder)).read_bytes() == f.read_bytes(), f
    b = ModelBundle.load(other / "v1", encoder_id=api.encoder.encoder_id)
    assert b.version == "v1" and b.manifest == ModelBundle.load(trained.folder).manifest
    assert np.isfinite(loaded.matcher.recommend_enterprises(api.ids["inv"], 5).items[0].score)


def test_an_altered_or_escaping_archive_is_refused(api: ApiEnv, trained: ModelBundle, tmp_path: Path) -> None:
    with api.db.connect(autocommit=True) as conn:
        conn.execute("UPDATE model_artifacts SET archive = archive || '\\x00'::bytea WHERE version = 'v1'")
        with pytest.raises(ArtifactError, match=r"the archive of v1 does not match its sha256 [0-9a-f]{64}"):
            artifacts.local_folder(conn, "v1", "/nowhere/v1", tmp_path / "b")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo("../outside.txt")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
        evil = buf.getvalue()
        conn.execute("UPDATE model_artifacts SET archive = %s, sha256 = %s WHERE version = 'v1'",
                     (evil, hashlib.sha256(evil).hexdigest()))
        with pytest.raises(ArtifactError, match="the archive of v1 cannot be unpacked: OutsideDestinationError"):
            artifacts.local_folder(conn, "v1", "/nowhere/v1", tmp_path / "b")
        assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "b" / "v1").exists()
        assert list((tmp_path / "b").iterdir()) == []  # no half-unpacked folder left
        artifacts.save(conn, "v1", trained.folder)  # put it back
        assert artifacts.local_folder(conn, "v1", "/nowhere/v1", tmp_path / "b") == tmp_path / "b" / "v1"
    shutil.rmtree(tmp_path / "b")


def test_a_version_with_no_archive_and_no_folder_keeps_its_registered_path(api: ApiEnv, tmp_path: Path) -> None:
    with api.db.connect(autocommit=True) as conn:
        assert artifacts.local_folder(conn, "old", "/nowhere/old", tmp_path) == Path("/nowhere/old")
