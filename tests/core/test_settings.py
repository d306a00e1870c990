from __future__ import annotations

import pytest

from clipfeed.infra.blobs import open_blob_store
from clipfeed.infra.cache import open_cache
from clipfeed.infra.db import Database
from clipfeed.infra.log import open_event_log
from clipfeed.settings import Settings


def test_comma_separated_lists_come_from_one_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIPFEED_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("CLIPFEED_DATABASE_SHARD_URLS", "sqlite:///one.db,sqlite:///two.db")
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.database_shard_urls == ["sqlite:///one.db", "sqlite:///two.db"]


async def test_an_unknown_url_scheme_fails_at_start_with_the_valid_ones_named() -> None:
    with pytest.raises(ValueError, match="sqlite:// or postgresql://"):
        Database("mysql://localhost/x")
    with pytest.raises(ValueError, match="file:// or s3://"):
        open_blob_store("ftp://host/x")
    with pytest.raises(ValueError, match="memory:// or redis://"):
        open_cache("memcached://host")
    with pytest.raises(ValueError, match="embedded:// or nats://"):
        await open_event_log("kafka://host:9092")


def test_shard_replicas_are_one_json_list_per_shard_database_or_the_start_fails_saying_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("CLIPFEED_DATABASE_SHARD_URLS", "postgresql://db/s1,postgresql://db/s2")
    monkeypatch.setenv("CLIPFEED_DATABASE_SHARD_REPLICA_URLS", '[["postgresql://r1/s1", "postgresql://r2/s1"], []]')
    assert Settings().database_shard_replica_urls == [["postgresql://r1/s1", "postgresql://r2/s1"], []]
    for wrong, said in (('[["postgresql://r1/s1"]]', "has 1 replica list"),
                        ("postgresql://r1/s1,postgresql://r1/s2", "is not JSON")):
        monkeypatch.setenv("CLIPFEED_DATABASE_SHARD_REPLICA_URLS", wrong)
        with pytest.raises(ValidationError, match=f"{said}.*one JSON list of replica URLs per shard database"):
            Settings()
    monkeypatch.delenv("CLIPFEED_DATABASE_SHARD_URLS")
    monkeypatch.setenv("CLIPFEED_DATABASE_SHARD_REPLICA_URLS", '[["postgresql://r1/s1"]]')
    with pytest.raises(ValidationError, match="CLIPFEED_DATABASE_SHARD_URLS is empty"):
        Settings()


async def test_replicas_of_a_database_that_is_not_postgresql_are_refused_at_start() -> None:
    with pytest.raises(ValueError, match="need PostgreSQL: shard database 1 is not"):
        Database("sqlite:///:memory:", shard_urls=["postgresql://db/s1", "sqlite:///:memory:"],
                 shard_replica_urls=[[], ["postgresql://r/s2"]])
    with pytest.raises(ValueError, match="must be a PostgreSQL URL"):
        Database("postgresql://db/main", shard_urls=["postgresql://db/s1"], shard_replica_urls=[["sqlite:///r.db"]])
