"""Search and secondaries encode without a global lock: concurrent searches run side by side on the
worker's encoder sessions, and a saturated encoder answers 503 with ``Retry-After`` at once instead of
queueing requests behind one another (finding 11 of issue 14: one key could tie up the workers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers_api import ApiEnv, api_service
from helpers_encoder import HashingEncoder

ENCODE_SECONDS = 0.8


class SlowEncoder(HashingEncoder):
    """The hashing encoder, taking :data:`ENCODE_SECONDS` per query once ``slow`` is set (after start-up)."""

    thread_safe = True  # pure NumPy: one instance may serve several sessions

    def __init__(self) -> None:
        super().__init__()
        self.slow = False
        self.running = self.most_at_once = 0
        self._count = threading.Lock()

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                       ) -> np.ndarray:
        if not self.slow:
            return super().encode_queries(texts)
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(ENCODE_SECONDS)
            return super().encode_queries(texts)
        finally:
            with self._count:
                self.running -= 1


@pytest.fixture(scope="module")
def api(pg_admin_url: str, template_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiEnv]:
    encoder = SlowEncoder()
    with api_service(pg_admin_url, tmp_path_factory.mktemp("sessions"), encoder=encoder, encoder_sessions=2,
                     encoder_wait_seconds=0.3) as env:
        encoder.slow = True
        yield env


def _search(api: ApiEnv, text: str) -> tuple[int, float, dict[str, str], dict]:
    t0 = time.perf_counter()
    r = api.get("/v1/search", "inv", q=text, side="enterprise", k=5)
    return r.status_code, time.perf_counter() - t0, dict(r.headers), r.json()


def test_concurrent_searches_are_not_serialised_behind_one_lock(api: ApiEnv) -> None:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda t: _search(api, t), ["芯片 设计 一", "锂电池 材料 二"]))
    wall = time.perf_counter() - t0
    assert [s for s, *_ in results] == [200, 200], [body for *_, body in results]
    assert api.encoder.most_at_once == 2  # type: ignore[attr-defined]
    assert wall < 2 * ENCODE_SECONDS, f"two searches took {wall:.2f} s: they waited for each other"


def test_a_saturated_encoder_answers_503_with_retry_after_never_hangs(api: ApiEnv) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: _search(api, f"新能源 汽车 零部件 {i}"), range(4)))
    statuses = sorted(s for s, *_ in results)
    assert statuses == [200, 200, 503, 503], statuses
    for status, seconds, headers, body in results:
        if status == 503:
            assert seconds < ENCODE_SECONDS, f"the refusal came after {seconds:.2f} s: it queued"
            assert int(headers["retry-after"]) >= 1
            assert body["error"]["code"] == "encoder_busy"
            assert "encoder_wait_seconds" in body["error"]["message"] or "retry" in body["error"]["message"].lower()


def test_secondaries_and_search_still_answer_after_the_busy_spell(api: ApiEnv) -> None:
    assert _search(api, "生物 医药 创新")[0] == 200
    r = api.get(f"/v1/investors/{api.ids['sfund']}/secondaries", "sfund", k=3)
    assert r.status_code == 200, r.text
