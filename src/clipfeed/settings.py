"""The one configuration object. Nothing else in the package reads ``os.environ``.

Every infrastructure dependency is chosen by the scheme of its URL, so the same code runs on
a laptop (embedded defaults under ``./var``) and on a cluster (PostgreSQL, Redis, NATS, S3).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIPFEED_", env_file=".env", extra="ignore")

    # Where embedded adapters keep their files; relative URLs below resolve under it.
    data_dir: Path = Path("var")

    database_url: str = "sqlite:///{data_dir}/clipfeed.db"
    # Extra databases that hold the sharded tables (virtual shards spread over them in order).
    # Empty: the sharded tables live in ``database_url`` too.
    database_shard_urls: list[str] = Field(default_factory=list)
    virtual_shards: int = 1024
    blob_url: str = "file://{data_dir}/blobs"
    cache_url: str = "memory://"
    log_url: str = "embedded://{data_dir}/events"

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # what clients use to reach us; derived from host/port when empty
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    max_json_body_bytes: int = 1 * 1024 * 1024
    request_timeout_s: float = 30.0

    # Identity: the node part of 64-bit IDs; must differ between processes that create rows.
    node_id: int = Field(default=-1, description="-1 picks one from the process ID")

    # Accounts
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 30 * 24 * 3600
    login_rate_per_minute: int = 10
    register_rate_per_hour: int = 20
    avatar_max_bytes: int = 5 * 1024 * 1024
    avatar_max_pixels: int = 4096 * 4096

    # Moderation: word lists (one phrase per line) replacing the shipped defaults.
    moderation_reject_words_file: Path | None = None
    moderation_review_words_file: Path | None = None
    # Reports from this many distinct users hide a clip until a moderator decides.
    moderation_report_hide_threshold: int = 5

    # Worker roles the API process runs itself. "auto": every role when the cache is in-process
    # (memory://), since only the process that owns that cache can see what workers put in it;
    # none otherwise (run `clipfeed worker <role>` processes).
    inprocess_workers: str = "auto"

    log_level: str = "INFO"
    log_json: bool = True
    region: str = "local"

    @field_validator("database_shard_urls", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def resolve(self, url: str) -> str:
        """Fill ``{data_dir}`` placeholders so relative defaults land under the data directory."""
        return url.replace("{data_dir}", str(self.data_dir.resolve()))

    def worker_roles_in_process(self, known: list[str]) -> list[str]:
        if self.inprocess_workers == "auto":
            return list(known) if self.cache_url.startswith("memory") else []
        wanted = [r.strip() for r in self.inprocess_workers.split(",") if r.strip() and r.strip() != "none"]
        unknown = set(wanted) - set(known)
        if unknown:
            raise ValueError(f"unknown worker roles in CLIPFEED_INPROCESS_WORKERS: {sorted(unknown)}")
        return wanted

    @cached_property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"
