"""One copy of the market per machine: the serving context as files, memory-mapped by every worker.

A :class:`~matching.serving.context.MatchContext` is written once (:func:`write_context`) into a folder
named by its key (:func:`context_key`: the market's fingerprint, the encoder, the index settings and
this format): every NumPy array of at least :data:`MAPPED_MIN_BYTES` (columns, codes, masks, vectors,
the funnel history, the collaborative model's tables, the sorted live needs) becomes a ``.npy`` file,
every FAISS index a ``.faiss`` file, the snapshot's long lists and id dicts (:data:`PACKED_FIELDS`: records,
names, keys, the id-to-row maps; at least :data:`PACKED_MIN_ITEMS` items) read-only
:mod:`~matching.serving.packed` containers over ``.npy`` files, and the rest one small pickle that
refers to them (its long lists of sets, :data:`SHARED_FIELDS`, with equal sets as one object).
:func:`load_context` maps the arrays read-only (``np.load(mmap_mode="r")``) and the indexes with
``IO_FLAG_MMAP_IFC`` (zero copy), so N workers share the same pages: the operating system keeps one copy,
whatever the number of workers.

Every file's size and SHA-256 are in ``manifest.json``; a load checks them and the key, and refuses
a stale or corrupt folder with an :class:`~matching.errors.ArtifactError` that names the fix.

Writes are atomic: a context is written into a temporary folder beside the others, each file and the
folder fsync'ed, then renamed to its key. A market reload writes the new key beside the old one;
workers that still map the old files keep them (an unlinked file stays mapped until unmapped) until
they switch, and :func:`prune` removes folders no worker should map any more.

    context, built = context_for(folder, key, build)   # the first worker builds and writes; others map
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from matching.errors import ArtifactError
from matching.serving.context import MatchContext
from matching.serving.packed import PackedMap, PackedSequence

logger = logging.getLogger(__name__)

#: Bumped whenever the layout of the files or of anything pickled in them changes.
FORMAT_VERSION = 5  # 2: need rows by enterprise as arrays; 3: shared empty sets and codes, IdMap without a dict;
#                     4: the snapshot's long lists and id dicts packed (PACKED_FIELDS); 5: financials as of "now"
MANIFEST = "manifest.json"
PICKLE = "context.pkl"
#: Arrays at least this large are written as their own ``.npy`` file and mapped; smaller ones are pickled.
MAPPED_MIN_BYTES = 1 << 12  # a page: smaller ones share nothing
_HASH_CHUNK = 1 << 22
#: Snapshot lists and dicts written as :mod:`~matching.serving.packed` containers (mapped, decoded when read)
#: once they hold this many items; smaller ones are pickled as they are.
PACKED_MIN_ITEMS = 10_000
#: The snapshot fields packed. Not packed: lists read whole on a request (``sec_record``, read by every
#: secondaries list) or already cheap (interned codes; the sets of :data:`SHARED_FIELDS`).
#: ``man_record`` keeps what it decoded and ``man_versions`` refers to it, so a current version ``is`` the
#: mandate (:mod:`matching.snapshot.asof` compares them by identity); both are packed, or neither.
PACKED_FIELDS = ("need_record", "inv_record", "man_record", "man_versions", "ent_name", "ent_key", "need_ref",
                 "inv_name", "inv_key", "enterprise_row", "investor_row", "need_row", "ent_key_row", "inv_key_row")
#: Snapshot lists of sets written with equal sets as one object (120,000 investors share a few thousand).
SHARED_FIELDS = ("man_sectors", "man_clusters", "man_excluded_sectors", "man_districts", "man_excluded_ents",
                 "ent_excl_investors")


def _packing_plan(context: MatchContext) -> dict[int, Callable[[], Any]]:
    """What to pack, by ``id`` of the plain list or dict: a function that builds its packed copy."""
    snap, plan = context.snap, {}

    def seq(obj: list[Any], **kw: Any) -> None:
        if type(obj) is list and len(obj) >= PACKED_MIN_ITEMS:
            plan[id(obj)] = lambda: PackedSequence.build(obj, **kw)

    def mapping(obj: dict[Any, Any], *, force: bool = False, **kw: Any) -> None:
        if type(obj) is dict and (force or len(obj) >= PACKED_MIN_ITEMS):
            plan[id(obj)] = lambda: PackedMap.build(obj, **kw)

    for name in ("need_record", "inv_record", "ent_name", "ent_key", "need_ref", "inv_name", "inv_key"):
        seq(getattr(snap, name))
    for name in ("enterprise_row", "investor_row", "need_row", "ent_key_row", "inv_key_row"):
        mapping(getattr(snap, name))
    mapping(context.sec_row)
    if type(snap.man_record) is list and len(snap.man_record) >= PACKED_MIN_ITEMS:
        seq(snap.man_record, kind="pickle", cached=True)
        mapping(snap.man_versions, force=True, ref=snap.man_record)
    for name in SHARED_FIELDS:
        if type(obj := getattr(snap, name)) is list and len(obj) >= PACKED_MIN_ITEMS:
            plan[id(obj)] = lambda obj=obj: _shared(obj)
    return plan


def _shared(sets: list[frozenset[Any]]) -> tuple[str, list[frozenset[Any]]] | None:
    """``("list", sets)`` with equal sets as one object: a pid that holds the list, pickled inline (``None``:
    not all frozensets, pickled as it is)."""
    if not all(type(x) is frozenset for x in sets):
        return None
    one: dict[frozenset[Any], frozenset[Any]] = {}
    return "list", [one.setdefault(x, x) for x in sets]


def context_key(fingerprint: str, encoder_id: str, settings: dict[str, Any]) -> str:
    """The name of a context's folder: a hash of the market's fingerprint, the encoder, the settings that
    shape the context (index configuration, collaborative model) and :data:`FORMAT_VERSION`."""
    h = hashlib.sha256()
    for part in (fingerprint, encoder_id, json.dumps(settings, sort_keys=True, default=str), str(FORMAT_VERSION),
                 faiss.__version__, np.__version__):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:24]


class _Writer(pickle.Pickler):
    """Pickles a context, writing large arrays and FAISS indexes to files of their own."""

    def __init__(self, buf: io.BytesIO, folder: Path,
                 plan: dict[int, Callable[[], Any]] | None = None) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder = folder
        self.files: list[str] = []
        self._plan = plan or {}
        self._seen: dict[int, Any] = {}
        self._keep: list[Any] = []  # the objects whose ids are in _seen stay alive while pickling

    def persistent_id(self, obj: Any) -> Any:  # noqa: D102
        if id(obj) in self._seen:
            return self._seen[id(obj)]
        if isinstance(obj, np.ndarray) and obj.dtype != object and obj.nbytes >= MAPPED_MIN_BYTES:
            pid = self._npy(obj)
        elif isinstance(obj, faiss.Index):
            name = f"{len(self.files):04d}.faiss"
            faiss.write_index(obj, str(self.folder / name))
            self.files.append(name)
            pid = ("faiss", name)
        elif isinstance(obj, (PackedSequence, PackedMap)):
            pid = self._packed(obj)
        elif id(obj) in self._plan and (packed := self._plan[id(obj)]()) is not None:
            self._keep.append(packed)
            pid = packed if isinstance(packed, tuple) else self._packed(packed)
        else:
            return None
        self._seen[id(obj)] = pid
        self._keep.append(obj)
        return pid

    def _npy(self, arr: np.ndarray) -> tuple[str, str]:
        name = f"{len(self.files):04d}.npy"
        np.save(self.folder / name, np.ascontiguousarray(arr), allow_pickle=False)
        self.files.append(name)
        return "npy", name

    def _packed(self, obj: PackedSequence | PackedMap) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
        """``("packed", class, parts, meta)``: each part an array file (whatever its size) or a packed pid."""
        parts = {part: self._seen.get(id(v)) or (self._packed(v) if isinstance(v, PackedSequence) else self._npy(v))
                 for part, v in obj.arrays().items()}
        meta: dict[str, Any] = {}
        if isinstance(obj, PackedSequence):
            meta = {"kind": obj.kind, "cached": obj.cached,
                    "ref": None if obj.ref is None else self.persistent_id(obj.ref)}
            if obj.ref is not None and meta["ref"] is None:
                raise ValueError("a packed sequence refers to records that are not packed: pack its ref too")
        return "packed", type(obj).__name__, parts, meta


class _Reader(pickle.Unpickler):
    """Unpickles a context, mapping the arrays and indexes it refers to."""

    def __init__(self, buf: io.BytesIO, folder: Path) -> None:
        super().__init__(buf)
        self.folder = folder
        self._loaded: dict[str, Any] = {}

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        if pid[0] == "packed":
            return self._packed(*pid[1:])
        if pid[0] == "list":  # a list pickled inline (_shared)
            return pid[1]
        kind, name = pid
        if name not in self._loaded:
            path = self.folder / name
            if kind == "npy":  # a plain ndarray view of the read-only mapping (the mapping lives as its base)
                self._loaded[name] = np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
            elif kind == "faiss":
                self._loaded[name] = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            else:
                raise pickle.UnpicklingError(f"unknown stored kind {kind!r} for {name}")
        return self._loaded[name]

    def _packed(self, cls: str, parts: dict[str, Any], meta: dict[str, Any]) -> PackedSequence | PackedMap:
        key = repr(sorted(parts.items()))  # its files: one object however often it is referred to
        if key not in self._loaded:
            got = {part: self.persistent_load(p) for part, p in parts.items()}
            if cls == "PackedSequence":
                ref = None if meta["ref"] is None else self.persistent_load(meta["ref"])
                self._loaded[key] = PackedSequence(got["data"], got["offsets"], meta["kind"], ref=ref,
                                                   cached=meta["cached"])
            elif cls == "PackedMap":
                self._loaded[key] = PackedMap(got["keys"], got["sorted"], got["positions"], got["values"])
            else:
                raise pickle.UnpicklingError(f"unknown packed container {cls!r}")
        return self._loaded[key]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_context(context: MatchContext, folder: Path, key: str) -> Path:
    """Write ``context`` as ``folder/key`` (atomically: a temporary folder, fsync'ed, then renamed).

    Returns the written folder. An existing ``folder/key`` is replaced (moved aside, then removed).
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    t0 = time.perf_counter()
    buf = io.BytesIO()
    writer = _Writer(buf, tmp, _packing_plan(context))
    writer.dump(context)
    (tmp / PICKLE).write_bytes(buf.getvalue())
    names = [*writer.files, PICKLE]
    files = {}
    for name in names:
        _fsync(tmp / name)
        files[name] = {"bytes": (tmp / name).stat().st_size, "sha256": _digest(tmp / name)}
    manifest = {"format": FORMAT_VERSION, "key": key, "files": files, "written_at": time.time(),
                "enterprises": context.snap.n_enterprises, "investors": context.snap.n_investors,
                "encoder_id": context.index.encoder_id}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    _fsync(tmp / MANIFEST)
    _fsync(tmp)
    target = folder / key
    if target.exists():  # a corrupt copy refused by load_context: moved aside, then removed
        old = folder / f".{key}.old-{os.getpid()}"
        target.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(target)
    _fsync(folder)
    logger.info("serving context written to %s in %.1f s (%d files, %.0f MiB)", target, time.perf_counter() - t0,
                len(files), sum(f["bytes"] for f in files.values()) / 2**20)
    return target


def load_context(folder: Path, key: str, *, verify: bool = True) -> MatchContext:
    """Map the context written as ``folder/key``, checking its manifest (and, with ``verify``, every file's hash).

    Raises:
        ArtifactError: no such context, or it is stale (another key or format) or corrupt (a file missing,
            of another size or hash); the message names the folder and the fix.
    """
    path = folder / key
    fix = f"delete {path} and start the service again (the first worker rebuilds it from the database)"
    mf = path / MANIFEST
    if not mf.exists():
        raise ArtifactError(f"no serving context at {path} ({MANIFEST} missing): {fix}")
    try:
        m = json.loads(mf.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"serving context at {path} has an unreadable manifest ({exc}): {fix}") from exc
    if m.get("format") != FORMAT_VERSION or m.get("key") != key:
        raise ArtifactError(f"serving context at {path} is stale: format {m.get('format')} and key {m.get('key')}, "
                            f"expected format {FORMAT_VERSION} and key {key}: {fix}")
    for name, want in m.get("files", {}).items():
        p = path / name
        if not p.exists():
            raise ArtifactError(f"serving context at {path} is corrupt: {name} is missing: {fix}")
        if p.stat().st_size != want["bytes"]:
            raise ArtifactError(f"serving context at {path} is corrupt: {name} has {p.stat().st_size} bytes, "
                                f"the manifest says {want['bytes']}: {fix}")
        if verify and _digest(p) != want["sha256"]:
            raise ArtifactError(f"serving context at {path} is corrupt: {name} does not match its SHA-256 in "
                                f"{MANIFEST}: {fix}")
    if PICKLE not in m.get("files", {}):
        raise ArtifactError(f"serving context at {path} is corrupt: the manifest lists no {PICKLE}: {fix}")
    try:
        context = _Reader(io.BytesIO((path / PICKLE).read_bytes()), path).load()
    except (OSError, ValueError, RuntimeError, pickle.UnpicklingError, AttributeError, EOFError) as exc:
        raise ArtifactError(f"serving context at {path} is unreadable ({type(exc).__name__}: {exc}): {fix}") from exc
    if not isinstance(context, MatchContext):
        raise ArtifactError(f"serving context at {path} holds a {type(context).__name__}, not a MatchContext: {fix}")
    return context


def context_for(folder: Path, key: str, build: Callable[[], MatchContext], *, verify: bool = True
                ) -> tuple[MatchContext, bool]:
    """The mapped context ``folder/key``: loaded when written before, else built with ``build``, written, and
    mapped (the built copy is dropped: the caller gets the shared pages).

    Concurrent callers (the workers of one service) take a file lock, so one builds and the others wait and
    map its files. A stale or corrupt folder is refused (logged with the reason) and rebuilt.
    Returns ``(context, built)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / key / MANIFEST).exists():  # the usual start: mapped (and checked) without waiting for the lock
        try:
            return load_context(folder, key, verify=verify), False
        except ArtifactError as exc:
            logger.warning("refused the serving context, rebuilding it: %s", exc)
    with open(folder / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / key).exists():  # another worker may have built (or rebuilt) it while this one waited
            try:
                return load_context(folder, key, verify=verify), False
            except ArtifactError as exc:
                logger.warning("refused the serving context, rebuilding it: %s", exc)
        write_context(build(), folder, key)
        return load_context(folder, key, verify=False), True


def prune(folder: Path, keep: set[str], *, keep_last: int = 2) -> list[str]:
    """Remove context folders other than ``keep`` and the ``keep_last`` newest; return the removed keys.

    A worker still mapping a removed folder keeps its pages (an unlinked file stays mapped) until it
    switches to the new context."""
    if not folder.exists():
        return []
    found = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                    and (p / MANIFEST).exists()), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for p in found[keep_last:]:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)  # its lock file stays: a worker may wait on it (flock), and
            removed.append(p.name)                 # one opening a new file of that name would build beside it
    return removed
