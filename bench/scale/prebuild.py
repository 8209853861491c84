"""The build step before the workers start: the market's serving files (``python -m bench.scale.prebuild``).

Runs :func:`api.loader.load_market` in its own process over the database and embedding cache named by
the environment (``CAPCONNECT_DATABASE_URL``, ``CAPCONNECT_EMBEDDINGS_DIR``), as the first worker of a
service would: it reads the market, builds the context and writes the mapped files
(:mod:`matching.serving.mapped`). The workers started afterwards only map them. Prints one JSON line:
seconds, peak resident memory (MiB), whether it built (``False``: the files were there), their size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run(database_url: str, env: dict[str, str], *, timeout_s: float = 3600) -> dict[str, Any]:
    """Build the serving files in a child process; its JSON line as a dict."""
    environ = {**os.environ, "CAPCONNECT_DATABASE_URL": database_url, "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1", **env}
    out = subprocess.run([sys.executable, "-m", "bench.scale.prebuild"], cwd=ROOT, env=environ, capture_output=True,
                         text=True, timeout=timeout_s)
    if out.returncode != 0:
        raise RuntimeError(f"building the serving files failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _hwm_kib() -> int:
    """This process's peak resident memory (VmHWM: reset by exec, unlike ``ru_maxrss``, which keeps the
    forking parent's peak)."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1])


def main() -> None:
    """Build (or find) the serving files of the configured market and print the figures."""
    import psycopg

    from api.loader import SERVING_DIR, load_market, serving_key
    from matching.config import Settings
    from matching.retrieval.embeddings import EmbeddingCache
    from matching.retrieval.encoder.encoder import load_serving_encoder
    from store.market_read import market_fingerprint

    settings = Settings()
    assert settings.database_url, "CAPCONNECT_DATABASE_URL names the bench database"
    encoder = load_serving_encoder(settings)  # as a worker: the same encoder id
    folder = settings.embedding_cache_dir / SERVING_DIR
    t0 = time.perf_counter()
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        key = serving_key(settings, conn, market_fingerprint(conn), encoder.encoder_id)
        existed = (folder / key).exists()
        load_market(settings, conn, encoder, cache=EmbeddingCache(settings.embedding_cache_dir))
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in (folder / key).iterdir())
    print(json.dumps({"seconds": round(seconds, 1), "built": not existed, "key": key,
                      "peak_rss_mib": round(_hwm_kib() / 1024),
                      "files_mib": round(size / 2**20)}))


if __name__ == "__main__":
    main()
