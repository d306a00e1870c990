"""A clip held for review plays for moderators through URLs signed for review, and only so."""

from __future__ import annotations

import time

import pytest

from clipfeed.clips import service as clips
from clipfeed.clips.models import ClipStatus
from clipfeed.delivery.signing import Signer, clip_scope, review_scope
from tests.delivery import ladder
from tests.delivery.conftest import fetch

pytestmark = pytest.mark.slow


async def test_a_held_clip_plays_only_with_a_review_signature_and_is_never_cached(
        delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    await clips.set_status(db=stack_services.db, outbox=stack_services.outbox, clip_id=clip.id,
                           status=ClipStatus.review, reason="held")
    signer = Signer.from_settings(stack_services.settings)
    expires = int(time.time()) + 600
    key = f"clips/{clip.id}/hls/master.m3u8"
    review = await fetch(f"{delivery_stack.origin}/media/{signer.token(review_scope(clip.id), expires)}/{key}")
    assert review.status_code == 200 and review.content == (ladder.ladder() / "hls/master.m3u8").read_bytes()
    assert review.headers["cache-control"] == "private, no-store"
    plain = await fetch(f"{delivery_stack.origin}/media/{key}")
    viewer_signed = await fetch(f"{delivery_stack.origin}/media/{signer.token(clip_scope(clip.id), expires)}/{key}")
    assert plain.status_code == 404 and viewer_signed.status_code == 404
    other = await ladder.publish(owner_id=creator.id, services=stack_services)  # a review token names one clip
    wrong = await fetch(f"{delivery_stack.origin}/media/{signer.token(review_scope(clip.id), expires)}/"
                        f"clips/{other.id}/hls/master.m3u8")
    assert wrong.status_code == 403
    await clips.set_status(db=stack_services.db, outbox=stack_services.outbox, clip_id=clip.id,
                           status=ClipStatus.rejected, reason="removed after review: spam")
    gone = await fetch(f"{delivery_stack.origin}/media/{signer.token(review_scope(clip.id), expires)}/{key}")
    assert gone.status_code == 410
