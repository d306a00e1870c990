"""Storage tests run on both stacks; on the real one every tier is its own SeaweedFS bucket."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import stack_settings


@pytest.fixture
def settings(stack: str, tmp_path, request: pytest.FixtureRequest):
    if stack == "real":
        endpoint = request.getfixturevalue("s3_endpoint")
        unique = uuid.uuid4().hex[:8]
        query = f"?endpoint={endpoint}&region=us-east-1&access_key=test&secret_key=test"
        tiers = {f"blob_url_{tier}": f"s3://clipfeed-{unique}-{tier}{query}" for tier in ("warm", "cold", "replica")}
    else:
        tiers = {"blob_url_replica": f"file://{tmp_path}/replica"}
    return stack_settings(stack, tmp_path, request, **tiers)
