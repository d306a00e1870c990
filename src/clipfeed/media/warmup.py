"""Loading the media models when a media worker starts, rather than on its first clip.

The first clip after a start waits for three models in the model process (``model_host``):
NudeNet for screening, Lingua for the caption's language and the sentence model for its
embedding; on a loaded 2-core box that is 15–25 s of a new instance's first minute. Loaded
here, at start, they load while the first upload (or the demo's first clips) is still being
generated, received or transcoded. Off with ``CLIPFEED_MEDIA_WARM_MODELS=false`` (the tests
turn it off: each starts a fresh worker and most never screen a clip).

Crash behaviour: nothing is stored; a helper that dies while loading is replaced on the next
call, which loads what it needs then.
"""

from __future__ import annotations

import asyncio

import structlog

from clipfeed.media import model_host
from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)


def load_models(languages: str, threads: int) -> None:
    """In the model process: each model once (they stay loaded there)."""
    from clipfeed.media.embedding import encode_in_model_process
    from clipfeed.media.metadata import detect_language_of
    from clipfeed.media.nsfw import detector

    detector()
    detect_language_of("warming up", languages)
    encode_in_model_process(["warming up"], threads)


async def warm_models_loop(stop: asyncio.Event, *, services: Services) -> None:
    """Once per media worker start; a failure is logged and left to the first job to meet."""
    settings = services.settings
    if not settings.media_warm_models or stop.is_set():
        return
    try:
        await model_host.run(load_models, settings.metadata_languages, settings.embedding_threads)
        log.info("media.models_warm")
    except Exception as exc:  # the first job loads them itself, and says why if it cannot
        log.warning("media.models_not_warmed", error=f"{type(exc).__name__}: {exc}")
