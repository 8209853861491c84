"""The numbered notebooks run end to end on a small generated market, and are stored clean.

Each notebook is executed with nbclient in a kernel of this interpreter (a kernelspec installed into
a temporary prefix, so nothing is written into the user's home), with the settings pointed at a
temporary data directory and at the session's converted real encoder. The embedding cache in that
directory is shared by the notebooks, so only the first one that embeds pays for it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
KERNEL = "capconnect-test"
CELL_TIMEOUT_S = 300
#: Parameters injected after a notebook's "parameters" cell (papermill style), to prove it is the one read.
PARAMETERS: dict[str, dict[str, object]] = {
    "1.0-explore-market.ipynb": {"N_ENTERPRISES": 123, "N_INVESTORS": 17, "MONTHS": 4, "SEED": 11},
}
#: Text each notebook must print (known answers, with the injected parameters).
EXPECTED: dict[str, tuple[str, ...]] = {
    "1.0-explore-market.ipynb": ("enterprises: 123", "investors: 17", "over 4 months",
                                 "same as the snapshot's profile text: True",
                                 "same as the snapshot's mandate text: True"),
    "2.0-evaluate-ranker.ipynb": ("| scorer | ndcg@10 |", "| model |", "| two_sided |", "| random |",
                                  "| popularity |", "| rules |", "| affinity |", "| similarity |",
                                  "lorenz_exposure.png", "recall_by_k.png", "| `semantic_sim` |"),
    "3.0-error-analysis.ipynb": ("contributions add up to the scores: True", "engaged in the window", "positive\n",
                                 "**Warm**", "**Cold**"),
}
#: Text no notebook may print (a known-answer check that failed).
FORBIDDEN = ("text: False", "scores: False")
#: Images (report PNGs or inline figures) each notebook must show at least.
MIN_IMAGES = {"1.0-explore-market.ipynb": 4, "2.0-evaluate-ranker.ipynb": 4, "3.0-error-analysis.ipynb": 2}
DEFINITION = re.compile(r"^\s*(async\s+def|def|class)\s", re.MULTILINE)


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernelspec running this interpreter (``sys.executable``), written into a temporary folder."""
    from ipykernel.kernelspec import write_kernel_spec

    kernels = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(str(kernels / KERNEL), overrides={"display_name": "capconnect tests"})
    return KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)


@pytest.fixture(scope="session")
def notebook_env(tmp_path_factory: pytest.TempPathFactory, encoder_dir: Path) -> dict[str, str]:
    """The kernel's environment: private data, models and temporary folders, the session's encoder, offline."""
    root = tmp_path_factory.mktemp("notebooks")
    (root / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPCONNECT_")}
    env.update(CAPCONNECT_DATA_DIR=str(root / "data"), CAPCONNECT_MODELS_DIR=str(root / "models"),
               TMPDIR=str(root / "tmp"), CAPCONNECT_ENCODER_PATH=str(encoder_dir), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    return env


def _code(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _inject(nb: Any, params: dict[str, object]) -> None:
    """Insert a cell setting ``params`` right after the cell tagged ``parameters``."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


def _text(nb: Any) -> str:
    """Everything the notebook printed or displayed as text or Markdown."""
    parts = []
    for cell in _code(nb):
        for out in cell.outputs:
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts += [out.data.get("text/markdown", ""), out.data.get("text/plain", "")]
    return "\n".join(parts)


def _images(nb: Any) -> int:
    return sum("image/png" in out.get("data", {}) for cell in _code(nb) for out in cell.outputs)


def test_notebooks_exist_and_are_numbered() -> None:
    names = [p.name for p in PATHS]
    assert names == sorted(EXPECTED), names
    assert all(re.fullmatch(r"\d+\.\d+-[a-z0-9-]+\.ipynb", n) for n in names)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_stored_without_outputs_and_without_pipeline_logic(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = _code(nb)
    assert "parameters" in cells[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    for i, cell in enumerate(cells):
        assert cell.execution_count is None, f"code cell {i} has an execution count: strip the outputs"
        assert cell.outputs == [], f"code cell {i} has outputs: strip them"
        assert not DEFINITION.search(cell.source), f"code cell {i} defines a function or class: move it to the package"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, kernel_specs: KernelSpecManager, notebook_env: dict[str, str],
                       tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    if path.name in PARAMETERS:
        _inject(nb, PARAMETERS[path.name])
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=notebook_env)  # raises CellExecutionError, with the traceback, on any error

    errors = [out for cell in _code(nb) for out in cell.outputs if out.output_type == "error"]
    assert errors == []
    text = _text(nb)
    missing = [s for s in EXPECTED[path.name] if s not in text]
    assert missing == [], f"{path.name} did not show {missing}"
    assert [s for s in FORBIDDEN if s in text] == []
    assert _images(nb) >= MIN_IMAGES[path.name]
    assert list(tmp_path.iterdir()) == [], "a notebook wrote into its working directory"
