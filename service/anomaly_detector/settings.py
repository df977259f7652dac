"""The one settings object of the service, read from the environment.

Every variable is documented in ``.env.example`` at the repository root.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service configuration; each field maps to the upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", protected_namespaces=())

    model_path: Path = Field(
        Path("models/model.joblib"), description="Model bundle to serve (MODEL_PATH)."
    )
    host: str = Field("127.0.0.1", description="Interface to bind (HOST).")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on (PORT).")
    max_batch_rows: int = Field(
        10_000, ge=1, description="Most rows accepted by POST /predictions (MAX_BATCH_ROWS)."
    )
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body accepted (MAX_BODY_BYTES)."
    )
    reload_interval_seconds: float = Field(
        2.0, gt=0, description="How often the model file is checked for changes."
    )
    admin_token: SecretStr | None = Field(
        None, description="Token for POST /admin/reload; the endpoint is off when unset."
    )
    allow_schema_change: bool = Field(
        False,
        description="Accept a new model file whose features differ from the serving model's.",
    )
    fast_lane: bool = Field(
        True,
        description="Serve POST /prediction on the lean ASGI path (same rules and metrics).",
    )
    log_level: str = Field("INFO", description="Log level of the JSON request log (LOG_LEVEL).")
    log_requests: bool = Field(True, description="Write one JSON log line per request.")


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
