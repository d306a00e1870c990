"""MkDocs hook: pages generated from the code at build time, so they cannot drift from it.

* ``operate/configuration.md``: every field of ``clipfeed.settings.Settings`` with its
  environment variable, type, default and meaning.
* ``operate/worker-roles.md``: the consumer groups and loops of each worker role.
* ``operate/metrics.md``: every ``clipfeed_*`` Prometheus metric.
* ``api/reference/*.md``: the HTTP API from ``clipfeed.api.create_app().openapi()``, one page
  per tag plus one for the schemas, as plain Markdown (no JavaScript, nothing from a CDN).

``mkdocs.yml`` names the configuration page and the reference index in its nav; the hook adds
one nav entry per tag, so a new tag needs no edit there. A link to a page or anchor the hook no
longer makes (a tag or schema renamed) fails ``mkdocs build --strict``.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import re
import sys
import tokenize
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

log = logging.getLogger("mkdocs.hooks.clipfeed")

# The pages this hook makes (tests/test_docs.py accepts links to them without a file).
GENERATED_PAGES = ("operate/configuration.md", "operate/worker-roles.md", "operate/metrics.md")
GENERATED_FOLDERS = ("api/reference/",)

# What an operator needs to know about a setting, where the one-line comment in settings.py
# says less. Fields not named here use that comment; a field with neither shows a dash.
NOTES: dict[str, str] = {
    "data_dir": "where embedded engines keep their files; `{data_dir}` in a URL setting is replaced by it",
    "database_url": "`sqlite:///path` or `postgresql://user:pass@host:5432/db`",
    "database_shard_urls": "comma-separated databases for the sharded tables; empty: the main database holds them",
    "virtual_shards": "virtual shards spread over the shard databases ([sharding](../design/index.md#sharding))",
    "database_pool_size": "PostgreSQL connections per database and process (as many again in bursts)",
    "blob_url": "the hot tier: `file:///dir` or "
    "`s3://bucket/prefix?endpoint=http://host:8333&region=us-east-1`",
    "cache_url": "`memory://?max_items=100000` or `redis://host:6379/0` "
    "(comma-separate several nodes; `?prefix=` namespaces keys)",
    "log_url": "`embedded:///dir` or `nats://host:4222`",
    "host": "where `clipfeed serve` listens",
    "port": "where `clipfeed serve` listens",
    "public_url": "the URL clients reach us at (behind a proxy); empty: derived from host and port",
    "cors_origins": "allowed browser origins, comma-separated",
    "max_json_body_bytes": "body limit for JSON endpoints (413 beyond)",
    "node_id": "the node bits of IDs, unique per live process (0–1023); -1 derives one from the PID",
    "access_token_ttl_s": "access token lifetime",
    "refresh_token_ttl_s": "refresh token lifetime",
    "login_rate_per_minute": "sign-in attempts per account per minute (3× that per address)",
    "register_rate_per_hour": "registrations per address per hour",
    "avatar_max_bytes": "largest avatar upload",
    "avatar_max_pixels": "largest avatar picture (decompression bombs are refused)",
    "log_level": "structured logs on stderr: level",
    "log_json": "structured logs on stderr: JSON lines (else console format)",
    "region": "the region this process serves (stamped on events)",
    "upload_max_bytes": "largest upload (`Tus-Max-Size`; 413 beyond)",
    "upload_max_chunk_bytes": "body limit of one tus request (413 beyond); clients send smaller chunks",
    "upload_expiry_s": "an unfinished upload expires this long after its last byte (`Upload-Expires`)",
    "upload_max_concurrent": "unfinished uploads per user (429 beyond)",
    "upload_daily_bytes": "bytes a user may announce in 24 h (429 beyond)",
    "upload_create_rate_per_hour": "upload creations per user per hour",
    "upload_patch_rate_per_minute": "tus `PATCH` requests per user per minute",
    "upload_min_duration_s": "shortest accepted video",
    "upload_max_duration_s": "longest accepted video",
    "upload_min_dimension": "the shortest side must be at least this (pixels, as displayed)",
    "upload_max_dimension": "the longest side must be at most this (pixels, as displayed)",
    "upload_containers": "accepted containers (sniffed from the bytes), comma-separated",
    "upload_video_codecs": "accepted video codecs (ffprobe names), comma-separated",
    "upload_audio_codecs": "accepted audio codecs (ffprobe names), comma-separated",
    "upload_lease_s": "a dead request's hold on an upload lapses after this (other hosts)",
    "upload_record_ttl_s": "how long finished, rejected and expired upload records stay",
    "upload_sweep_interval_s": "period of the upload sweep (lifecycle role)",
    "inprocess_workers": "worker roles the API process runs itself (`auto`: all with `memory://`, "
    "none otherwise; or a comma-separated list, or `none`)",
    "moderation_reject_words_file": "phrase list (one per line) that rejects text; empty: the shipped list",
    "moderation_review_words_file": "phrase list (one per line) that sends text to review; empty: the shipped list",
    "moderation_report_hide_threshold": "distinct reporters that hide a clip pending review",
    "social_comment_edit_window_s": "how long after posting the author may edit a comment "
    "([Social](../design/social.md))",
    "social_comment_rate_per_minute": "comments and edits per user per minute",
    "social_comment_rate_per_day": "comments and edits per user per day",
    "social_write_rate_per_minute": "per user, for each of likes, bookmarks, follows, blocks, shares",
    "idempotency_ttl_s": "how long `Idempotency-Key` responses are kept",
    "notifications_fanout_threshold": "above this many followers, new clips reach followers on read "
    "([Notifications](../design/notifications.md))",
    "notifications_like_window_s": "likes of one clip within a window share one notification",
    "notifications_pull_days": "how far back on-read fan-out looks",
    "screening_policy": "JSON overrides of the screening policy, check → `[hold at, reject at]` "
    "([Moderation](../design/moderation.md#screening-checks-and-policy))",
    "screening_nsfw_frames": "frames per clip the nudity detector looks at",
    "screening_phash_distance": "bits (of 64) within which two frame pHashes show the same picture",
    "media_work_dir": "local scratch space for FFmpeg (one folder per clip being processed)",
    "media_ack_wait_s": "a media job's lease; renewed by a heartbeat, so it only bounds how soon "
    "a dead worker's job moves",
    "media_max_duration_s": "longest clip accepted by the pipeline",
    "media_max_side": "largest picture side accepted (also at most 8K pixels)",
    "media_chunk_after_s": "clips longer than this are encoded in chunks by all media workers",
    "media_chunk_s": "length of those chunks (about)",
    "media_extra_codecs": "`hevc`, `av1`: extra renditions beside the H.264 ladder "
    "([Media pipeline](../design/media-pipeline.md))",
    "media_passthrough": "copy an upload that already is the top H.264 rendition instead of encoding that "
    "rung again ([Media pipeline](../design/media-pipeline.md#passing-the-top-rung-through))",
    "blocklist_max_file_bytes": "largest file a moderator may upload to the blocklist",
    "metadata_languages": "ISO 639-1 codes the caption language detector chooses from",
    "embedding_threads": "torch threads for the caption embedding (the ladder needs the other cores)",
    "media_signing_keys": "`kid:secret` pairs, newest first, for signed media URLs; empty: a development "
    "key generated in the data folder ([Delivery](../design/delivery.md#signed-urls))",
    "media_signing_keys_accepted": "keys still accepted after a rotation",
    "media_url_ttl_s": "signed URL lifetime",
    "edges": "JSON: region → list of edge base URLs; empty: media URLs point at the origin",
    "edge_load_factor": "bounded loads: an edge takes at most (1 + this) × the mean before clips spill over",
    "edge_purge_secret": "HMAC key shared with the edges' purge agents",
    "placement_top_clips": "clips pre-warmed per region",
    "placement_segments": "first segments pre-warmed per rendition",
    "placement_interval_s": "how often clips are pre-warmed",
    "blob_url_warm": "the warm tier ([Storage tiers](../design/storage-tiers.md))",
    "blob_url_cold": "the cold tier",
    "blob_url_replica": "a second region's copy of the hot tier",
    "storage_hot_days": "hot → warm after this long in hot …",
    "storage_warm_below_views_per_day": "… when under this many views a day",
    "storage_cold_days": "warm → cold when published this long ago …",
    "storage_cold_below_views_per_day": "… and under this many views a day",
    "storage_promote_views_per_day": "back to hot (and re-transcode) at this many views a day",
    "storage_raw_cold_days": "raw masters go cold this long after publishing",
    "storage_prices": "USD per GB-month per tier (JSON), for `clipfeed storage report`",
    "lifecycle_interval_s": "period of the storage lifecycle run",
    "events_max_batch": "events per `POST /v1/events`",
    "events_max_body_bytes": "bytes per `POST /v1/events`",
    "events_max_future_skew_s": "client clocks accepted this far ahead",
    "events_max_age_s": "older client events are refused (`too_old`)",
    "events_region_header": "a header your edge sets with the viewer's region (trusted only when named)",
    "events_allow_anonymous": "accept anonymous viewers (with `X-Device-Id`)",
    "events_rate_per_minute": "event batches per viewer per minute",
    "topic_retention_days": "JSON overrides, topic → days (`0`: keep forever) "
    "([Events](../design/stream.md#topics-and-partition-keys))",
    "stream_partitions": "partitions of the activity topics (fixed once created)",
    "stream_allowed_lateness_s": "watermark lateness",
    "stream_dedupe_horizon_s": "how long applied event IDs are remembered",
    "trending_half_life_s": "decay of trending scores",
    "features_half_life_s": "decay of interest profiles",
    "lake_flush_interval_s": "Parquet part cadence",
    "lake_max_rows_per_part": "Parquet part size",
    "lake_jobs_interval_s": "batch job cadence",
    "lake_engine": "`duckdb` or `spark`",
    "feed_page_size": "clips per page ([Recommendations](../design/recommendations.md))",
    "feed_buffer_size": "ranked clips buffered per viewer",
    "feed_buffer_stale_s": "a buffer older than this is rebuilt",
    "feed_refill_below": "a buffer shorter than this is refilled in the background",
    "feed_blend": "slot shares of a page (discovery: the starting exploration share)",
    "feed_source_quotas": "candidates per source per build (0 turns a source off)",
    "feed_objective_weights": "how the ranker's objectives combine (watch: per 30 s)",
    "feed_creator_gap": "diversity: no two clips of one creator within this many positions",
    "feed_hashtag_cap": "diversity: at most this many clips sharing a hashtag per page",
    "feed_mmr_lambda": "diversity: MMR trade-off (1: relevance only; lower: more diverse)",
    "feed_explore_rate": "starting exploration share; adapts per viewer",
    "feed_fresh_impressions": "impressions owed to each new clip",
    "feed_seen_ttl_s": "how long a served clip stays out of feeds",
    "feed_seen_capacity": "Bloom filter size (clips per viewer per period)",
    "feed_model_poll_s": "how often serving processes poll the model registry",
    "feed_train_interval_s": "retraining cadence of the batch role",
    "feed_experiments_file": "A/B experiments (JSON); empty: none",
    "serve_compute_threads": "BLAS/OpenMP threads per API process (faiss, LightGBM, numpy): a feed "
    "request's small searches and products gain nothing from more, and idle OpenMP threads spin "
    "beside the other requests",
}

# What a consumer group or loop does, where its docstring does not say it in one sentence.
WORKER_NOTES: dict[str, str] = {
    "stream-relay": "Copies social events onto `activity.clips` (by clip) and `activity.users` (by actor).",
    "stream-catalog": "Clip metadata (`meta:clip:{id}`) and the live-clip set `clips:live` in the cache.",
    "stream-clips": "Counters, clip live features and trending.",
    "stream-users": "Viewers' interest profiles.",
    "social-cleanup": "Removes a deleted account's follows, blocks, likes, bookmarks and comments.",
    "recs-indexer": "Clip cards and candidate pools of the feed, from clip and user events.",
    "purge_loop": "Edge purges queued as `soon`, and retries of unconfirmed ones.",
}

# Sections of the configuration page: (title, field name prefixes), first match wins.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Engines", ("data_dir", "database_", "virtual_shards", "blob_url", "cache_url", "log_url")),
    ("HTTP and processes", ("host", "port", "public_url", "cors_origins", "max_json_body_bytes",
                            "request_timeout", "node_id", "inprocess_workers", "log_level", "log_json",
                            "region", "serve_compute_threads")),
    ("Instance", ("instance_", "registration_")),
    ("Accounts", ("access_token", "refresh_token", "login_", "register_", "avatar_")),
    ("Uploads", ("upload_",)),
    ("Media pipeline", ("media_work_dir", "media_ack", "media_max", "media_chunk", "media_extra",
                        "media_passthrough", "metadata_", "embedding_")),
    ("Moderation and screening", ("moderation_", "screening_", "blocklist_")),
    ("Social and notifications", ("social_", "idempotency_", "notifications_")),
    ("Delivery", ("media_signing", "media_url", "edge", "placement_")),
    ("Storage tiers", ("storage_", "lifecycle_")),
    ("Events, stream and lake", ("events_", "topic_", "stream_", "trending_", "features_", "lake_")),
    ("Feed and recommendations", ("feed_",)),
    ("Federation", ("federation_",)),
]


def _field_comments(source: str, class_name: str) -> dict[str, str]:
    """The comment on a field's own line, else the comment block just above it."""
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and node.name == class_name):
            continue
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            inline = [comments[n] for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1)
                      if n in comments and lines[n - 1].lstrip()[:1] != "#"]
            above: list[str] = []
            n = stmt.lineno - 1
            while n in comments and lines[n - 1].lstrip().startswith("#"):
                above.insert(0, comments[n])
                n -= 1
            found[stmt.target.id] = " ".join(inline) or " ".join(above)
    return found


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if not getattr(annotation, "__args__", None) else None
    text = text or str(annotation)
    text = re.sub(r"typing\.|pathlib\.|Annotated\[(.*), NoDecode\]", r"\1", text)
    return text.replace("PosixPath", "Path").replace("NoneType", "None")


def _default(field: Any) -> str:
    value = field.get_default(call_default_factory=True)
    if isinstance(value, Path):
        value = str(value)
    if value is None or value == "" or value == [] or value == {}:
        return "(empty)"
    if isinstance(value, list):
        return "`" + ",".join(str(v) for v in value) + "`"
    if isinstance(value, dict):
        return "`" + json.dumps(value) + "`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    # Docstrings use reStructuredText's ``code``; Markdown wants `code`.
    return " ".join(text.replace("``", "`").split()).replace("|", "\\|")


def configuration_page() -> str:
    from clipfeed.instance.catalogue import CATALOGUE
    from clipfeed.settings import Settings

    source = (ROOT / "src" / "clipfeed" / "settings.py").read_text()
    comments = _field_comments(source, "Settings")
    prefix = Settings.model_config.get("env_prefix", "")
    sections: dict[str, list[str]] = {title: [] for title, _ in GROUPS}
    sections["Other"] = []
    for name, field in Settings.model_fields.items():
        title = next((t for t, prefixes in GROUPS if name.startswith(prefixes)), "Other")
        meaning = NOTES.get(name) or field.description or comments.get(name) or "—"
        if name in CATALOGUE:
            meaning += " **Admins may override it in `/admin`.**"
        if name not in NOTES and not field.description and not comments.get(name):
            log.info("setting %s has no description (add a comment in settings.py)", name)
        sections[title].append(
            f"| `{prefix}{name.upper()}` | `{_cell(_type_name(field.annotation))}` | {_cell(_default(field))} "
            f"| {_cell(meaning)} |"
        )
    out = [
        "# Configuration reference",
        "",
        "Generated from `clipfeed.settings.Settings` each time the site is built, so it lists",
        f"exactly the settings of this version ({len(Settings.model_fields)} of them).",
        "",
        "Every setting is read from an environment variable with the `CLIPFEED_` prefix, or from a",
        "`.env` file in the working directory; nothing else in the package reads the environment.",
        "Lists are comma-separated; tables (`dict` types) are JSON. `{data_dir}` in a URL is replaced",
        "by the data directory. The scheme of each URL picks the adapter, and an unknown scheme stops",
        "the process at start-up with a message naming the valid ones.",
        "",
        "## Settings admins override",
        "",
        f"{len(CATALOGUE)} settings (marked below) can also be changed by an admin in the web app's",
        "[admin console](../use/admins.md) or through `PUT /v1/admin/settings/{name}`. Such a change is",
        "stored in the metadata database and **takes precedence over the environment** in every process",
        "(each one rechecks at most a second later); the console shows the environment's value beside it,",
        "and *Reset* (`DELETE /v1/admin/settings/{name}`) drops the override so the environment's value",
        "applies again. Changing the environment variable of an overridden setting therefore has no",
        "effect until the override is reset. Every change is in the admin audit.",
        "",
    ]
    for title, rows in sections.items():
        if not rows:
            continue
        out += [f"## {title}", "", "| variable | type | default | meaning |", "|---|---|---|---|", *rows, ""]
    return "\n".join(out)


def _first_sentence(obj: Any) -> str:
    """The first sentence of an object's docstring, else of its module's."""
    for doc in (obj.__doc__, getattr(sys.modules.get(obj.__module__), "__doc__", None)):
        text = " ".join((doc or "").split())
        end = text.find(". ")
        sentence = text if end < 0 else text[: end + 1]
        if sentence and "|" not in sentence and " * " not in sentence and len(sentence) < 240:
            return sentence
    return "—"


def _built_class(factory: Any) -> type | None:
    """The processor class a factory function makes (built on settings alone, never run)."""
    from types import SimpleNamespace

    from clipfeed.settings import Settings

    try:
        return type(factory(SimpleNamespace(settings=Settings())))
    except Exception:
        return None


def _roles(workers: Any) -> dict[str, tuple[list[Any], list[Any]]]:
    """role → (processor factories, loops), from the ``ROLES`` table."""
    return {name: (list(role.processors), list(role.loops)) for name, role in workers.ROLES.items()}


def worker_roles_page() -> str:
    """Every role's consumer groups and loops, read from ``clipfeed.workers``."""
    from clipfeed import workers

    out = [
        "# Worker roles",
        "",
        "Generated from `clipfeed.workers` when the site is built: what `clipfeed worker <role>` runs.",
        "Each consumer group is named in metrics (`group` label), in `clipfeed events replay --group`,",
        "and in its dead-letter topic `dlq.<group>`. A *shared* group is a work queue (any member takes",
        "any record); a *partitioned* group gives each partition to one live member. How processors",
        "retry and dead-letter: [Workers](../design/workers.md).",
        "",
    ]
    for role, (processors, role_loops) in _roles(workers).items():
        out += [f"## {role}", "", f"`clipfeed worker {role}`", ""]
        rows = []
        for factory in processors:
            cls = factory if isinstance(factory, type) else _built_class(factory)
            if not isinstance(cls, type) or not hasattr(cls, "group"):
                log.warning("worker role %s: cannot tell the group of %r (scripts/docs_hooks.py)", role, factory)
                continue
            topics = ", ".join(f"`{topic}`" for topic in cls.topics)
            kind = "shared" if cls.shared else "partitioned"
            rows.append(f"| `{cls.group}` | {topics} | {kind} | {cls.max_deliveries} | `dlq.{cls.group}` "
                        f"| {_cell(WORKER_NOTES.get(cls.group) or _first_sentence(cls))} |")
        if rows:
            out += ["| consumer group | reads | kind | deliveries before dead-letter | dead-letter topic | what |",
                    "|---|---|---|---:|---|---|", *rows, ""]
        loops = [f"| `{loop.__module__}.{loop.__name__}` "
                 f"| {_cell(WORKER_NOTES.get(loop.__name__) or _first_sentence(loop))} |"
                 for loop in role_loops]
        if loops:
            out += ["| loop | what |", "|---|---|", *loops, ""]
    return "\n".join(out)


def metrics_page() -> str:
    """Every ``clipfeed_*`` Prometheus metric the package defines, once the app and the worker
    roles are imported (they register their metrics at import)."""
    from prometheus_client import REGISTRY

    import clipfeed.api
    import clipfeed.workers  # noqa: F401  (registers the workers' metrics)

    clipfeed.api.create_app()
    rows = []
    for collector in list(REGISTRY._collector_to_names):  # the registry keeps no public list
        name = getattr(collector, "_name", "")
        if not name.startswith("clipfeed_"):
            continue
        kind = getattr(collector, "_type", "")
        shown = f"{name}_total" if kind == "counter" and not name.endswith("_total") else name
        labels = ", ".join(f"`{label}`" for label in getattr(collector, "_labelnames", ()))
        rows.append(f"| `{shown}` | {kind} | {labels} | {_cell(getattr(collector, '_documentation', ''))} |")
    return "\n".join([
        "# Metrics reference",
        "",
        "Generated when the site is built from the Prometheus metrics the package registers",
        f"({len(rows)} of them). `GET /metrics` serves them for the API process and the worker roles",
        "it runs in process. What to watch and alert on: [Monitoring](monitoring.md).",
        "",
        "| metric | type | labels | what |",
        "|---|---|---|---|",
        *sorted(rows),
        "",
    ])


# ---- OpenAPI ---------------------------------------------------------------------------------

METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _schema_type(schema: dict[str, Any], link_prefix: str) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}]({link_prefix}#{_slug('schema-' + name)})"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " or ".join(_schema_type(s, link_prefix) for s in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_schema_type(schema.get('items', {}), link_prefix)}"
    if "enum" in schema:
        return " · ".join(f"`{v}`" for v in schema["enum"])
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return f"object of {_schema_type(schema['additionalProperties'], link_prefix)}"
    if "const" in schema:
        return f"`{schema['const']}`"
    text = kind or "any"
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    title = op.get("summary") or op.get("operationId", "")
    out = [f"## `{method.upper()} {path}` {{#{_slug('op-' + method + path)}}}", "", f"**{_cell(title)}**", ""]
    if op.get("description"):
        out += [op["description"].strip().replace("``", "`"), ""]
    if op.get("security"):
        out += ["Requires a bearer token (`Authorization: Bearer …`).", ""]
    params = op.get("parameters", [])
    if params:
        out += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in params:
            out.append(f"| `{p['name']}` | {p['in']} | {_cell(_schema_type(p.get('schema', {}), 'schemas.md'))} "
                       f"| {'yes' if p.get('required') else 'no'} | {_cell(p.get('description', ''))} |")
        out.append("")
    body = op.get("requestBody")
    if body:
        for ctype, media in body.get("content", {}).items():
            out += [f"Request body (`{ctype}`): {_schema_type(media.get('schema', {}), 'schemas.md')}", ""]
    out += ["| status | meaning | body | headers |", "|---|---|---|---|"]
    for status, resp in sorted(op.get("responses", {}).items()):
        kinds = [f"`{c}` {_schema_type(m.get('schema', {}), 'schemas.md')}" for c, m in resp.get("content", {}).items()]
        headers = ", ".join(f"`{name}`" for name in resp.get("headers", {}))
        out.append(f"| {status} | {_cell(resp.get('description', ''))} | {_cell('; '.join(kinds))} | {headers} |")
    return [*out, ""]


def api_pages(spec: dict[str, Any]) -> dict[str, str]:
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((path, method, item[method]))
    pages: dict[str, str] = {}
    index = [
        "# API reference",
        "",
        f"Generated from the OpenAPI document of this version ({spec['info'].get('title', '')} "
        f"{spec['info'].get('version', '')}, OpenAPI {spec.get('openapi', '')}) when the site is built.",
        "A running server serves the same document at `/openapi.json`. Conventions shared by every",
        "endpoint (errors, pagination, rate limits) are in the [HTTP API overview](../index.md).",
        "",
        "| tag | operations |",
        "|---|---:|",
    ]
    for tag in sorted(by_tag):
        ops = sorted(by_tag[tag])
        index.append(f"| [{tag}]({_slug(tag)}.md) | {len(ops)} |")
        lines = [f"# {tag.capitalize()}", "", f"{len(ops)} operations tagged `{tag}`.", ""]
        for path, method, op in ops:
            lines += _operation(path, method, op)
        pages[f"api/reference/{_slug(tag)}.md"] = "\n".join(lines)
    index += ["", "Request and response bodies: [schemas](schemas.md).", ""]
    pages["api/reference/index.md"] = "\n".join(index)
    schemas = ["# Schemas", "", "Request and response bodies of the API, from its OpenAPI document.", ""]
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        schemas += [f"## {name} {{#{_slug('schema-' + name)}}}", ""]
        if schema.get("description"):
            schemas += [_cell(schema["description"]), ""]
        props = schema.get("properties", {})
        if props:
            required = set(schema.get("required", []))
            schemas += ["| field | type | required | description |", "|---|---|---|---|"]
            for prop, sub in props.items():
                desc = sub.get("description", "")  # titles are only the field name again
                schemas.append(f"| `{prop}` | {_cell(_schema_type(sub, ''))} | {'yes' if prop in required else 'no'} "
                               f"| {_cell(desc)} |")
            schemas.append("")
        elif "enum" in schema:
            schemas += ["Values: " + _schema_type(schema, ""), ""]
    pages["api/reference/schemas.md"] = "\n".join(schemas)
    return pages


_PAGES: dict[str, str] = {}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Generate the pages once, and list the API reference pages in the nav under
    API > Reference (so a new tag appears without editing ``mkdocs.yml``)."""
    from clipfeed.api import create_app

    _PAGES.clear()
    _PAGES["operate/configuration.md"] = configuration_page()
    _PAGES["operate/worker-roles.md"] = worker_roles_page()
    _PAGES["operate/metrics.md"] = metrics_page()
    _PAGES.update(api_pages(create_app().openapi()))
    reference = ["api/reference/index.md"] + [
        {page.rsplit("/", 1)[-1][:-3].replace("-", " ").capitalize(): page}
        for page in sorted(_PAGES)
        if page.startswith("api/reference/") and page not in ("api/reference/index.md", "api/reference/schemas.md")
    ] + [{"Schemas": "api/reference/schemas.md"}]
    for section in config.nav or []:
        if isinstance(section, dict) and "API" in section:
            for entry in section["API"]:
                if isinstance(entry, dict) and "Reference" in entry:
                    entry["Reference"] = reference
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for src_uri, content in _PAGES.items():
        files.append(File.generated(config, src_uri, content=content))
    return files
