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


class FetchSettings(BaseSettings):
    """HTTP fetching: safety caps and politeness. Environment: ``NEWSWIRE_FETCH_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_FETCH_", env_file=None, extra="ignore")

    allow_private: bool = Field(
        False, description="allow private/loopback/link-local addresses (tests only)"
    )
    allow_hosts: str = Field(
        "", description="comma-separated host or host:port exempt from the address guard"
    )
    timeout: float = Field(15.0, gt=0, description="seconds per connect/read")
    total_timeout: float = Field(60.0, gt=0, description="seconds for a whole fetch")
    max_bytes: int = Field(10_000_000, ge=1000, description="cap on raw bytes downloaded")
    max_decompressed: int = Field(
        30_000_000, ge=1000, description="cap on bytes after gzip/deflate decoding"
    )
    max_redirects: int = Field(5, ge=0, le=20)
    domain_interval: float = Field(
        1.0, ge=0, description="minimum seconds between requests to one host (all workers)"
    )
    max_wait: float = Field(
        10.0, ge=0, description="longest wait for a host's turn or Retry-After, else give up"
    )
    user_agent: str = Field("NewswireBot/0.1 (+https://example.org/newswire)")
    max_sitemap_urls: int = Field(50_000, ge=1)
    summary_chars: int = Field(
        600, ge=0, description="feed items with less text than this are fetched as pages"
    )


class DedupSettings(BaseSettings):
    """Near-duplicate detection. Environment: ``NEWSWIRE_NEAR_DUP_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSWIRE_NEAR_DUP_", env_file=None, extra="ignore"
    )

    threshold: float = Field(
        0.6, gt=0, le=1, description="estimated Jaccard similarity to call it a duplicate"
    )
    min_words: int = Field(25, ge=1, description="shorter bodies are not near-dup checked")


class FaultHooks(BaseSettings):
    """Fault hooks for tests, off unless set (``NEWSWIRE_FAULT_*``, ``NEWSWIRE_TEST_POISON_*``).

    Read fresh on every use (:func:`fault_hooks`): the fault suite sets them per worker."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", env_file=None, extra="ignore")

    fault_injection: bool = Field(False, description="enable the slow-task hook (worker)")
    fault_slow_marker: str | None = Field(
        None, description="a task whose message holds a body with this text sleeps first"
    )
    fault_slow_seconds: float = Field(5.0, ge=0, description="how long it sleeps")
    test_poison_marker: str | None = Field(
        None, description="the poison task fails on a batch holding a body with this text"
    )
    test_poison_task: str = Field("enrich.tag_articles", description="the task that fails")
    test_poison_mode: str | None = Field(None, description="'exit': kill the process instead")

    @field_validator("fault_slow_marker", "test_poison_marker", "test_poison_mode", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v


class FlowerSettings(BaseSettings):
    """Flower's basic auth (``NEWSWIRE_FLOWER_USER``, ``NEWSWIRE_FLOWER_PASSWORD``); the
    password is checked with every other secret (:meth:`Settings._refuse_default_secrets`)."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_FLOWER_", env_file=None, extra="ignore")

    user: str | None = Field(None, description="Flower basic-auth user (required)")
    password: str | None = Field(None, description="Flower basic-auth password")


class ScheduleSettings(BaseSettings):
    """How often beat sends each periodic task (``NEWSWIRE_<FIELD>``, seconds). Each service
    declares its entries next to its tasks (``beat_schedule(settings)`` in its tasks.py)."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", env_file=None, extra="ignore")

    reconcile_interval: int = Field(60, ge=1, description="seconds between reconciler runs")
    feed_poll_interval: int = Field(
        30, ge=1, description="seconds between checks for feeds that are due (beat)"
    )
    search_index_interval: int = Field(
        30,
        ge=1,
        description="seconds between sweeps that build missing search documents (and cluster "
        "stories)",
    )


def fault_hooks() -> FaultHooks:
    """The fault hooks as the environment says now (not cached)."""
    return FaultHooks()


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
    furniture_file: str | None = Field(
        None, description="page furniture list (default: services/ingest/data/furniture.txt)"
    )
    ingest_keep_short: bool = Field(
        False, description="keep pages with too little main text (`newswire ingest --keep-short`)"
    )

    # Enrich.
    cache_dir: str | None = Field(
        None, description="where the tagger's city table is built (default: XDG cache, ~/.cache)"
    )

    # Operators.
    reconcile_after: int = Field(600, ge=1, description="seconds before received is re-sent")
    reconcile_batch: int = Field(5000, ge=1, description="most articles re-sent per run")
    queue_high_water: int = Field(
        2000, ge=1, description="messages waiting in enrich/store above which ingest pauses"
    )
    queue_low_water: int = Field(500, ge=0, description="messages under which ingest resumes")
    metrics_window: int = Field(300, ge=10, description="seconds of history for rates and lag")
    console_cache_s: float = Field(
        10.0, ge=0, description="seconds the console's sources and news are cached (0: off)"
    )

    # Nested groups, each with its own prefix (NEWSWIRE_FETCH_*, NEWSWIRE_NEAR_DUP_*,
    # NEWSWIRE_FLOWER_*, the beat intervals, NEWSWIRE_FAULT_* / NEWSWIRE_TEST_POISON_*):
    # one place for every knob.
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    flower: FlowerSettings = Field(default_factory=FlowerSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    faults: FaultHooks = Field(default_factory=FaultHooks)

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

    @field_validator(
        "broker_url",
        "api_token",
        "api_read_token",
        "source_country",
        "furniture_file",
        "cache_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("ingest_keep_short", mode="before")
    @classmethod
    def _on_words(cls, v: object) -> bool:
        """1 / true / yes / on (any case) is on; anything else, unset included, is off."""
        return str(v).strip().lower() in {"1", "true", "yes", "on"}

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
            secrets = {
                "api_token": self.api_token,
                "api_read_token": self.api_read_token,
                "flower_password": self.flower.password,
            }
            for name, value in secrets.items():
                if (name == "api_token" or value is not None) and _placeholder(value):
                    raise ValueError(
                        f"NEWSWIRE_{name.upper()} is missing or a placeholder: set it to a real "
                        "secret (e.g. `openssl rand -hex 32`) in .env or the environment"
                    )
            if self.flower.password is not None and len(self.flower.password) < 12:
                raise ValueError(
                    "NEWSWIRE_FLOWER_PASSWORD must be a real secret (12+ characters) in "
                    "production: Flower can revoke tasks and shut workers down"
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
