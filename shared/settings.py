"""One settings object, read from the environment (``NEWSWIRE_*``) once per process."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite:///newswire.db"
INSECURE_DEFAULTS = {"", "changeme", "change-me", "dev", "development"}


def _placeholder(value: str | None) -> bool:
    v = (value or "").lower()
    return v in INSECURE_DEFAULTS or v.startswith(("change-me", "changeme"))


class SettingsError(SystemExit):
    """The environment cannot run Newswire: one line naming the variable and what to do.

    A ``SystemExit`` so that every entry point (CLI, Celery, uvicorn) prints the line and
    exits non-zero without a traceback.
    """

    def __init__(self, exc: ValidationError) -> None:
        problems = []
        for err in exc.errors():
            msg = str(err.get("msg", "")).removeprefix("Value error, ")
            field = ".".join(str(x) for x in err.get("loc", ()))
            if field and "NEWSWIRE_" not in msg:
                msg = f"NEWSWIRE_{field.upper()}: {msg}"
            problems.append(msg)
        super().__init__("newswire: configuration error: " + "; ".join(problems))


class Settings(BaseSettings):
    """Every knob of Newswire. Environment variables are ``NEWSWIRE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", env_file=None, extra="ignore")

    env: str = Field("development", description="development | production")
    broker_url: str | None = Field(
        None, description="Redis URL of the Celery broker; unset = embedded mode (in-process)"
    )
    database_url: str = Field(DEFAULT_SQLITE_URL, description="SQLAlchemy URL of the database")
    log_format: str = Field("console", description="console | json")
    log_level: str = Field("INFO", description="DEBUG | INFO | WARNING | ERROR")

    # Batching: articles per message on each hop.
    batch_size: int = Field(20, ge=1, le=1000, description="articles per message")
    enrich_batch_size: int = Field(32, ge=1, le=1000, description="nlp.pipe batch size")

    # Delivery (see GUIDE section 4).
    visibility_timeout: int = Field(3600, ge=60, description="seconds before Redis redelivers")
    task_soft_time_limit: int = Field(300, ge=1, description="seconds")
    task_time_limit: int = Field(360, ge=1, description="seconds")
    retry_backoff_max: int = Field(600, ge=1, description="seconds, cap of retry backoff")
    max_retries: int = Field(50, ge=0, description="retries of transient errors per message")
    max_attempts: int = Field(5, ge=1, description="attempts per article before dead-lettering")
    worker_prefetch_multiplier: int = Field(1, ge=1)
    worker_concurrency: int | None = Field(None, ge=1, description="pool size; default = cores")
    worker_max_memory_per_child: int = Field(
        800_000, ge=10_000, description="KiB; a pool child above it is replaced"
    )
    worker_max_tasks_per_child: int = Field(1000, ge=1)

    # Ingest.
    source_country: str | None = Field(None, description="ISO 3166-1 alpha-2 prior for tagging")
    max_body_chars: int = Field(1_000_000, ge=1000, description="longer bodies are truncated")
    max_file_bytes: int = Field(50_000_000, ge=1000, description="bigger input files are refused")

    # Operators.
    reconcile_after: int = Field(600, ge=1, description="seconds before received is re-sent")
    reconcile_interval: int = Field(60, ge=1, description="seconds between reconciler runs")
    reconcile_batch: int = Field(5000, ge=1, description="most articles re-sent per run")
    search_index_interval: int = Field(
        30, ge=1, description="seconds between sweeps that build missing search documents"
    )
    queue_high_water: int = Field(
        2000, ge=1, description="messages waiting in enrich/store above which ingest pauses"
    )
    queue_low_water: int = Field(500, ge=0, description="messages under which ingest resumes")
    metrics_window: int = Field(300, ge=10, description="seconds of history for rates and lag")
    flower_user: str | None = Field(None, description="Flower basic-auth user (required)")
    flower_password: str | None = Field(None, description="Flower basic-auth password")

    # HTTP API.
    api_token: str | None = Field(None, description="bearer token for write endpoints")
    api_read_token: str | None = Field(None, description="bearer token for read endpoints")

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, v: str) -> str:
        v = v.lower()
        if v not in {"console", "json"}:
            raise ValueError("NEWSWIRE_LOG_FORMAT must be 'console' or 'json'")
        return v

    @field_validator("broker_url", "api_token", "api_read_token", "source_country", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, v: str) -> str:
        scheme = urlsplit(v).scheme.split("+")[0]
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(
                "NEWSWIRE_DATABASE_URL must look like postgresql://user:password@host:5432/db "
                "or sqlite:///newswire.db"
            )
        return v

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).scheme not in {"redis", "rediss"}:
            raise ValueError(
                "NEWSWIRE_BROKER_URL must look like redis://:password@host:6379/0 "
                "(or be unset for the embedded mode)"
            )
        return v

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production":
            for name in ("api_token", "api_read_token", "flower_password"):
                value = getattr(self, name)
                if (name == "api_token" or value is not None) and _placeholder(value):
                    raise ValueError(
                        f"NEWSWIRE_{name.upper()} is missing or a placeholder: set it to a real "
                        "secret (e.g. `openssl rand -hex 32`) in .env or the environment"
                    )
            for name, hint in (
                ("broker_url", "REDIS_PASSWORD"),
                ("database_url", "POSTGRES_PASSWORD"),
            ):
                url = getattr(self, name) or ""
                password = urlsplit(url).password
                if password is not None and _placeholder(password):
                    raise ValueError(
                        f"NEWSWIRE_{name.upper()} has a placeholder password: set {hint} "
                        "(docker compose) or the URL's password to a real secret"
                    )
        return self

    @property
    def embedded(self) -> bool:
        """No broker: every stage runs in-process."""
        return not self.broker_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process; an unusable environment exits with one line
    (:class:`SettingsError`), never a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(exc) from None


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
