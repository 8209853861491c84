"""No module of the API sends SQL of its own: the statements live in :mod:`store`.

The import rules of the API's layers (the console and the services never import route modules: a route
function called directly skips the checks FastAPI runs on its parameters) are checked with every other
import rule in ``tests/test_import_rules.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

API = Path(__file__).resolve().parents[1] / "api"


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
