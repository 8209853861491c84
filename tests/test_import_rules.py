"""The import rules of the layout (ARCHITECTURE.md): who may import whom, checked on every module.

Each rule names a folder and the imports forbidden anywhere below it, function-local imports included
(a lazy ``import training`` inside a route still loads LightGBM into the serving process). The core
(``matching/``) imports no web framework and no database driver; the SQL layer (``store/``) sits under
the service and the training, never above them; the service (``api/``) never imports training or the
command line; the console (``api/web/``) calls services, never route functions; inside the core, each
step imports only the steps before it (the order of :data:`CORE_ORDER`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("matching", "store", "api", "training", "cli", "bench")
WEB_AND_DB = ("fastapi", "starlette", "uvicorn", "httpx", "psycopg", "psycopg_pool", "sqlalchemy", "alembic")

#: folder → imports forbidden below it (a name matches itself and everything under it).
RULES: dict[str, tuple[str, ...]] = {
    "matching": (*WEB_AND_DB, "api", "store", "training", "cli", "bench"),
    "store": ("fastapi", "starlette", "api", "training", "cli", "bench"),
    "training": ("fastapi", "starlette", "api", "cli", "bench"),
    "api": ("training", "cli", "bench"),
    "api/web": ("api.routes",),
    "api/services": ("api.routes",),
    "cli": ("bench",),
}

#: The core's steps in pipeline order: a step may import itself and the steps before it, never after.
#: ``matching.config`` and ``matching.errors`` sit below everything.
CORE_ORDER: tuple[str, ...] = (
    "domain", "ingest", "synth", "snapshot", "rules", "readiness", "programmes", "retrieval", "features", "learning",
    "ranking", "explain", "serving",
)


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """Every module ``path`` imports, absolute, with its line: ``from a import b`` gives ``a`` and ``a.b``
    (``b`` may be a module); relative imports are resolved against the file's package."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def _modules(folder: str, root: Path) -> list[Path]:
    return sorted(p for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def offences(folder: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """``file:line imports name`` for each forbidden import below ``folder``."""
    return [f"{p.relative_to(root)}:{line} imports {name}"
            for p in _modules(folder, root) for line, name in imports_of(p, root)
            if any(_under(name, f) for f in forbidden)]


@pytest.mark.parametrize("folder", sorted(RULES))
def test_each_folder_imports_only_what_its_layer_allows(folder: str) -> None:
    assert offences(folder, RULES[folder]) == []


def _step(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "matching" and parts[1] in CORE_ORDER else None


def core_order_offences(root: Path = ROOT) -> list[str]:
    """Imports inside ``matching/`` from a later step into an earlier one."""
    found = []
    for p in _modules("matching", root):
        parts = p.relative_to(root).parts
        mine = parts[1] if len(parts) > 2 and parts[1] in CORE_ORDER else None
        if mine is None:
            if parts[1] in ("config.py", "errors.py"):  # the floor: imports no other part of the core
                found += [f"{'/'.join(parts)}:{line} imports {name}" for line, name in imports_of(p, root)
                          if _under(name, "matching") and name not in ("matching.config", "matching.errors")]
            continue
        for line, name in imports_of(p, root):
            step = _step(name)
            if step is not None and CORE_ORDER.index(step) > CORE_ORDER.index(mine):
                found.append(f"{'/'.join(parts)}:{line} imports {name} (step {step} comes after {mine})")
    return found


def test_core_steps_import_only_earlier_steps() -> None:
    assert core_order_offences() == []


def test_every_core_module_belongs_to_a_step() -> None:
    """A new top-level module in ``matching/`` must be placed in a step (or be the settings/errors floor)."""
    loose = [p.name for p in (ROOT / "matching").glob("*.py")
             if p.name not in ("__init__.py", "config.py", "errors.py")]
    steps = sorted(p.name for p in (ROOT / "matching").iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert loose == []
    assert steps == sorted(CORE_ORDER)


def test_the_checks_see_every_form_of_import(tmp_path: Path) -> None:
    """Known answer: a planted module with each import form is caught by the folder and the order rules."""
    planted = tmp_path / "matching" / "rules" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("import psycopg\n"
                       "def f():\n    from fastapi import APIRouter\n"
                       "from ..serving import matcher\n"
                       "from matching.ranking.ranker import LambdaRanker\n"
                       "from matching.snapshot.core import MarketSnapshot\n", encoding="utf-8")
    found = offences("matching", RULES["matching"], tmp_path)
    order = core_order_offences(tmp_path)
    assert found == ["matching/rules/planted.py:1 imports psycopg", "matching/rules/planted.py:3 imports fastapi",
                     "matching/rules/planted.py:3 imports fastapi.APIRouter"]
    assert [o.split(" (")[0] for o in order] == [
        "matching/rules/planted.py:4 imports matching.serving",
        "matching/rules/planted.py:4 imports matching.serving.matcher",
        "matching/rules/planted.py:5 imports matching.ranking.ranker",
        "matching/rules/planted.py:5 imports matching.ranking.ranker.LambdaRanker"]
