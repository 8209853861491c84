"""The layers of the API package: the web console calls the service layer, never the API's route functions,
and no module of the API sends SQL of its own (the statements live in :mod:`store`).

An import-graph check (issue 14, "web pages call a service layer, not route functions"): a route
function called directly skips the checks FastAPI runs on its parameters (roles, path and query
validation), so the console must go through :mod:`api.services`, whose operations take the
authenticated principal and check it themselves.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

API = Path(__file__).resolve().parents[1] / "api"


def _imports(path: Path, as_if: Path | None = None) -> list[tuple[int, str]]:
    """Every name ``path`` imports, absolute (``from a import b`` gives ``a`` and ``a.b``; relative imports
    resolved against the file's package, or ``as_if``'s)."""
    package = ".".join((as_if or path).relative_to(API.parent).with_suffix("").parts[:-1])
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def _offences(folder: str, forbidden: str) -> list[str]:
    return [f"{p.relative_to(API.parent)}:{line} imports {name}"
            for p in sorted((API / folder).rglob("*.py")) for line, name in _imports(p)
            if name == forbidden or name.startswith(forbidden + ".")]


def test_web_pages_never_import_route_modules() -> None:
    assert _offences("web", "api.routes") == []


def test_services_never_import_route_modules() -> None:
    """The service layer sits below the routes: they call it, it never calls them."""
    assert _offences("services", "api.routes") == []


def test_the_check_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import api.routes.events\nfrom api.routes import matching\n"
                      "from ..routes.models import promote_model\nfrom api import routes\n", encoding="utf-8")
    found = {name for _, name in _imports(sample, as_if=API / "web" / "x.py")}
    assert {"api.routes.events", "api.routes.matching", "api.routes.models", "api.routes"} <= found


#: SQL a module would have to send itself: statements belong in the one SQL layer, :mod:`store`.
_SQL = re.compile(r"\bSELECT\s+[\w*(]|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b")


def _sql_literals(path: Path, root: Path = API.parent) -> list[str]:
    """String constants of ``path`` that read as SQL statements (docstrings, which may name one, aside),
    each as ``file:line: 'text'`` with the file relative to ``root``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [f"{path.relative_to(root)}:{node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and _SQL.search(node.value)]


def test_the_api_sends_no_sql_of_its_own() -> None:
    """Every statement lives in :mod:`store`; the API calls its functions (issue 15)."""
    assert [hit for p in sorted(API.rglob("*.py")) for hit in _sql_literals(p)] == []


def test_the_sql_check_sees_a_statement(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text('"""Runs ``SELECT 1``."""\nQ = "SELECT id FROM t"\nR = "INSERT INTO t VALUES (1)"\n'
                      'S = "DELETE"\n', encoding="utf-8")
    found = _sql_literals(sample, tmp_path)
    assert len(found) == 2 and "SELECT id" in found[0] and "INSERT" in found[1]
