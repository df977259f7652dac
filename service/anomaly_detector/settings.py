"""The one settings object of the service, read from the environment.

Every variable is documented in ``.env.example`` at the repository root.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where `make model`, the CLI and the service look for the model by default.
DEFAULT_MODEL_PATH = Path("models/model.joblib")


class Settings(BaseSettings):
    """Service configuration; each field maps to the upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", protected_namespaces=())

    model_path: Path = Field(DEFAULT_MODEL_PATH, description="Model bundle to serve (MODEL_PATH).")
    host: str = Field("127.0.0.1", description="Interface to bind (HOST).")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on (PORT).")
    max_batch_rows: int = Field(
        10_000, ge=1, description="Most rows accepted by POST /predictions (MAX_BATCH_ROWS)."
    )
    max_explain_rows: int = Field(
        100, ge=1, description="Most rows POST /predictions explains at once (MAX_EXPLAIN_ROWS)."
    )
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body accepted (MAX_BODY_BYTES)."
    )
    reload_interval_seconds: float = Field(
        2.0, gt=0, description="How often the model file is checked for changes."
    )
    models_dir: Path | None = Field(
        None,
        description="Only model files inside this folder are loaded (MODELS_DIR); "
        "default: the folder of MODEL_PATH.",
    )
    require_checksum: bool = Field(
        False,
        description="Refuse a model file whose sha256 does not match model.json "
        "(REQUIRE_CHECKSUM); off, a file copied alone or a plain scikit-learn dump is "
        "served too, and the models folder is the trust boundary.",
    )
    max_in_flight: int = Field(
        64,
        ge=1,
        description="Requests served at once per worker; beyond it 503 with Retry-After.",
    )
    request_timeout_seconds: float = Field(
        10.0, gt=0, description="A request still running after this gets 503 (REQUEST_TIMEOUT)."
    )
    shutdown_delay_seconds: float = Field(
        0.0,
        ge=0,
        description="On SIGTERM, report not-ready this long before refusing connections, "
        "so load balancers stop sending traffic first.",
    )
    api_keys: str = Field(
        "",
        description="Comma-separated keys; when set, prediction endpoints need X-API-Key.",
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
    workers: int = Field(
        1,
        ge=1,
        description="Worker processes of `serve` (WORKERS); one per core you can give the "
        "service. Above 1, metrics are aggregated across workers.",
    )
    detector_plugins: str = Field(
        "",
        description="Comma-separated modules that register extra detectors (DETECTOR_PLUGINS).",
    )
    ui_prometheus_url: str = Field(
        "",
        description="Prometheus the web page links to (UI_PROMETHEUS_URL); empty: no link. "
        "The reader's browser opens it, so give an address it reaches.",
    )
    ui_grafana_url: str = Field(
        "", description="Grafana the web page links to (UI_GRAFANA_URL); empty: no link."
    )
    watch_prometheus_url: str = Field(
        "http://127.0.0.1:9090",
        description="Prometheus the series watcher queries (WATCH_PROMETHEUS_URL).",
    )
    watch_port: int = Field(
        9101, ge=1, le=65535, description="Port of the watcher's /metrics (WATCH_PORT)."
    )
    watch_interval_seconds: float = Field(
        15.0, gt=0, description="How often the watcher scores the newest points."
    )
    watch_step_seconds: float = Field(
        15.0, gt=0, description="Resolution of the watched series (one point per step)."
    )
    watch_history_hours: float = Field(
        168.0, gt=0, description="History the watcher fits on at start and at each refit."
    )
    watch_refit_minutes: float = Field(
        60.0, gt=0, description="How often the watcher refits on its history (fit_every)."
    )
    watch_detector: str = Field(
        "series_ensemble",
        description="Series detector of the watcher (WATCH_DETECTOR); the default scores "
        "from its first minutes (seasonal_mad alone needs a full day of history first).",
    )
    watch_threshold: float = Field(
        0.7,
        gt=0,
        lt=1,
        description="Anomaly score at which a watched point is anomalous (the default "
        "detector's default threshold; each detector's is in `anomaly-detector detectors`).",
    )
    watch_queries: dict[str, str] = Field(
        default_factory=dict,
        description="Extra series to watch, as JSON {name: PromQL} (WATCH_QUERIES); the "
        "service's own p95 latency, request rate and error ratio are always watched.",
    )
    log_level: str = Field("INFO", description="Log level of the JSON request log (LOG_LEVEL).")
    log_requests: bool = Field(True, description="Write one JSON log line per request.")

    @field_validator("models_dir", "admin_token", mode="before")
    @classmethod
    def _empty_means_unset(cls, value):
        # `MODELS_DIR=` (as in .env.example) means "not set", not the current directory.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ui_prometheus_url", "ui_grafana_url")
    @classmethod
    def _http_link(cls, value: str) -> str:
        # A page link: an http(s) address, never a javascript: or data: one.
        value = value.strip()
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// address, got {value!r}")
        return value

    @field_validator("watch_prometheus_url")
    @classmethod
    def _prometheus_address(cls, value: str) -> str:
        # Checked at start-up: otherwise a typo only shows as a failed poll every interval.
        value = value.strip().rstrip("/")
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// address, got {value!r}")
        return value

    @property
    def trusted_models_dir(self) -> Path:
        return (self.models_dir or self.model_path.parent).resolve()

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(key.strip() for key in self.api_keys.split(",") if key.strip())
