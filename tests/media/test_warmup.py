"""A media worker loads its models when it starts, so a new instance's first clip does not wait
for them."""

from __future__ import annotations

import asyncio

import pytest

from clipfeed.media import model_host, warmup

pytestmark = pytest.mark.parametrize("stack", ["embedded"], indirect=True)  # nothing here touches storage


def models_loaded() -> dict[str, bool]:
    """What the model process holds (runs there)."""
    from clipfeed.media import embedding, metadata, nsfw

    return {"nsfw": nsfw._detector is not None, "language": metadata._detector.cache_info().currsize > 0,
            "sentences": bool(embedding._encoders)}


@pytest.mark.settings(media_warm_models=True)
async def test_a_starting_media_worker_loads_the_models_in_the_model_process(*, services) -> None:
    model_host.shutdown()  # a helper another test left loaded would make this pass for nothing
    try:
        await warmup.warm_models_loop(asyncio.Event(), services=services)
        assert await model_host.run(models_loaded) == {"nsfw": True, "language": True, "sentences": True}
    finally:
        model_host.shutdown()


@pytest.mark.settings(media_warm_models=False)
async def test_warming_can_be_turned_off(*, services) -> None:
    model_host.shutdown()
    try:
        await warmup.warm_models_loop(asyncio.Event(), services=services)
        assert await model_host.run(models_loaded) == {"nsfw": False, "language": False, "sentences": False}
    finally:
        model_host.shutdown()
