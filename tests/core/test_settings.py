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
