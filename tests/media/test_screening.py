"""Automated screening: NudeNet offline, the pHash blocklist and its moderator API, duplicate
re-uploads, caption rules, and the policy that turns scores into decisions."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipCreate, ClipStatus
from clipfeed.demo.content import package_video
from clipfeed.media import features, nsfw, screening
from clipfeed.media.frames import Sampling, sample, spread
from clipfeed.media.probe import probe
from tests.helpers import assert_problem, signup
from tests.media import clipgen

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screening-clips")


async def _clip(owner_id: int, caption: str = "", *, services) -> int:
    clip = await clips_service.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                            owner_id=owner_id, request=ClipCreate(caption=caption))
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id,
                                   status=ClipStatus.processing)
    return clip.id


async def _screen(clip_id: int, source: Path, tmp_path: Path, caption: str = "", hashtags: list[str] | None = None,
                  *, services) -> screening.ScreeningResult:
    return await screening.screen(services=services, clip_id=clip_id, source=source, workdir=tmp_path / str(clip_id),
                                  probe=await probe(source), caption=caption, hashtags=hashtags or [])


def test_policy_takes_the_strictest_action_and_settings_override_rows(settings) -> None:
    table = screening.policy(settings)
    assert screening.decide({"nsfw": 0.1, "text": 0.0}, table) == ("approve", [])
    assert screening.decide({"nsfw": 0.5, "text": 0.0}, table) == ("hold", ["nsfw"])
    assert screening.decide({"nsfw": 0.5, "blocklist": 0.9}, table) == ("reject", ["blocklist"])
    assert screening.decide({"duplicate": 1.0}, table) == ("hold", ["duplicate"])  # never rejected by default
    strict = settings.model_copy(update={"screening_policy": {"duplicate": (0.8, 0.95)}})
    assert screening.decide({"duplicate": 1.0}, screening.policy(strict)) == ("reject", ["duplicate"])
    assert screening.policy(strict)["nsfw"] == screening.DEFAULT_POLICY["nsfw"]


async def test_nudenet_runs_offline_and_scores_a_benign_clip_low(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_args, **_kwargs):
        raise AssertionError("NudeNet tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    source = package_video("carphone_pristine.mp4")  # a man talking on a phone in a car
    frames = (await sample(source, probe=await probe(source), workdir=tmp_path,
                           samplings=[Sampling("n", 0.5, 320)]))["n"]
    detections = nsfw.detect(frames)
    # The detector really ran: it finds the face in most frames (its gender label is beside the point)...
    assert sum(any(d["class"].startswith("FACE_") for d in found) for found in detections) >= len(frames) // 2
    # ...and nothing explicit, far under the hold threshold.
    clip_score = nsfw.clip_score([nsfw.frame_score(d, f) for d, f in zip(detections, frames.pixels, strict=True)])
    assert clip_score < 0.2 < screening.DEFAULT_POLICY["nsfw"][0]


async def test_a_furry_cartoon_chest_is_not_taken_for_skin(tmp_path: Path) -> None:
    source = package_video("bigbuckbunny.mp4")
    frames = (await sample(source, probe=await probe(source), workdir=tmp_path,
                           samplings=[Sampling("n", spread(5.312, 16), 320)]))["n"]
    detections = nsfw.detect(frames)
    raw = nsfw.clip_score([max((d["score"] for d in found if d["class"] in nsfw.EXPLICIT), default=0.0)
                           for found in detections])
    weighed, _ = await nsfw.score(frames)
    assert raw > screening.DEFAULT_POLICY["nsfw"][0]  # NudeNet alone would hold the rabbit...
    assert weighed < screening.DEFAULT_POLICY["nsfw"][0]  # ...its grey fur is not skin


def test_skin_range_covers_light_to_dark_skin_but_not_greys() -> None:
    tones = [(255, 224, 196), (224, 172, 140), (198, 134, 66), (141, 85, 36), (92, 51, 23)]
    for tone in tones:
        assert nsfw.skin_share(np.full((4, 4, 3), tone, dtype=np.uint8)) == 1.0
    for other in [(153, 150, 148), (200, 200, 200), (30, 120, 40), (40, 60, 200)]:
        assert nsfw.skin_share(np.full((4, 4, 3), other, dtype=np.uint8)) == 0.0


async def test_blocklist_catches_a_rescaled_reencoded_copy_but_not_another_clip(
        client, services, clips: Path, tmp_path: Path) -> None:
    creator, mod = await signup(client, "creator"), await signup(client, "mod")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mod", role=Role.moderator)
    original = package_video("bigbuckbunny.mp4")
    first = await _clip(creator.id, "bunny", services=services)
    assert (await _screen(first, original, tmp_path, services=services)).decision == "approve"

    added = await client.post("/v1/moderation/blocklist", headers=mod.auth,
                              json={"clip_id": str(first), "reason": "test: pretend this is prohibited"})
    assert added.status_code == 201, added.text
    assert added.json()["source_clip_id"] == str(first) and added.json()["frames"] >= 4

    uploader = await signup(client, "uploader")
    copy = clipgen.reencode(original, clips / "bunny-copy.mp4", vf="scale=480:270", crf=34)
    result = await _screen(await _clip(uploader.id, services=services), copy, tmp_path, services=services)
    assert result.decision == "reject" and result.scores["blocklist"] >= 0.8
    assert result.creator_reason and "not allowed" in result.creator_reason
    assert any(added.json()["id"] in reason for reason in result.reasons)

    other = await _screen(await _clip(uploader.id, services=services), package_video("bikes.mp4"), tmp_path,
                          services=services)
    assert other.scores["blocklist"] == 0.0 and other.decision == "approve"


async def test_moderators_blocklist_an_uploaded_file_and_others_cannot(
        client, services, clips: Path, tmp_path: Path) -> None:
    user, mod = await signup(client, "someone"), await signup(client, "mod2")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mod2", role=Role.moderator)
    banned = clipgen.make(clips / "banned.mp4", "mandelbrot=s=320x240", seconds=4)
    data = banned.read_bytes()
    assert_problem(await client.post("/v1/moderation/blocklist?reason=x", content=data,
                                     headers={**user.auth, "Content-Type": "video/mp4"}), 403)
    assert_problem(await client.post("/v1/moderation/blocklist?reason=x", content=data,
                                     headers={"Content-Type": "video/mp4"}), 401)
    assert_problem(await client.post("/v1/moderation/blocklist?reason=x", content=b"not a video at all",
                                     headers={**mod.auth, "Content-Type": "video/mp4"}), 422)
    assert_problem(await client.post("/v1/moderation/blocklist", content=b"x",
                                     headers={**mod.auth, "Content-Type": "text/plain"}), 415)
    assert_problem(await client.post("/v1/moderation/blocklist", json={"clip_id": "1", "reason": "x"},
                                     headers=mod.auth), 409)  # no such clip fingerprinted
    made = await client.post("/v1/moderation/blocklist?reason=known%20bad", content=data,
                             headers={**mod.auth, "Content-Type": "video/mp4"})
    assert made.status_code == 201, made.text
    listed = await client.get("/v1/moderation/blocklist", headers=mod.auth)
    assert [e["id"] for e in listed.json()["items"]] == [made.json()["id"]]
    assert_problem(await client.get("/v1/moderation/blocklist", headers=user.auth), 403)

    copy = clipgen.reencode(banned, clips / "banned-copy.mp4", vf="scale=640:480")
    assert (await _screen(await _clip(user.id, services=services), copy, tmp_path,
                          services=services)).decision == "reject"
    removed = await client.delete(f"/v1/moderation/blocklist/{made.json()['id']}", headers=mod.auth)
    assert removed.status_code == 204
    assert (await _screen(await _clip(user.id, services=services), copy, tmp_path,
                          services=services)).scores["blocklist"] == 0.0


async def test_a_reupload_of_someone_elses_clip_is_held_but_your_own_is_allowed(
        client, services, clips: Path, tmp_path: Path) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    mod = await signup(client, "mod3")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mod3", role=Role.moderator)
    source = package_video("bikes.mp4")
    original = await _clip(alice.id, services=services)
    assert (await _screen(original, source, tmp_path, services=services)).decision == "approve"
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=original,
                                   status=ClipStatus.ready)

    copy = clipgen.reencode(source, clips / "bikes-copy.mp4", vf="scale=320:136")
    stolen = await _clip(bob.id, services=services)
    result = await _screen(stolen, copy, tmp_path, services=services)
    assert result.decision == "hold" and result.scores["duplicate"] >= 0.9
    assert "copy of another creator's clip" in (result.creator_reason or "")
    queue = (await client.get("/v1/moderation/queue", headers=mod.auth)).json()["items"]
    assert [(c["subject_id"], c["source"]) for c in queue] == [(str(stolen), "auto")]
    # Screening the same clip again (a redelivered job) joins the pending case.
    await _screen(stolen, copy, tmp_path, services=services)
    assert len((await client.get("/v1/moderation/queue", headers=mod.auth)).json()["items"]) == 1

    again = await _screen(await _clip(alice.id, services=services), source, tmp_path, services=services)
    assert again.decision == "approve" and again.scores["duplicate_own"] == 1.0
    stored = await features.get(db=services.db, clip_id=stolen)
    assert stored is not None and stored.flags["decision"] == "hold" and stored.fingerprint


async def test_caption_rules_hold_spam_and_reject_abuse(clips: Path, tmp_path: Path, *, services) -> None:
    owner = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                       settings=services.settings, handle="captions", email="c@example.com",
                                       password="long enough password")
    clip = clipgen.make(clips / "plain.mp4", "testsrc2=s=320x240", seconds=2)
    fine = await _screen(await _clip(owner.id, services=services), clip, tmp_path, "A sunny walk #park", ["park"],
                         services=services)
    assert fine.decision == "approve" and fine.scores["text"] == 0.0
    spam = await _screen(await _clip(owner.id, services=services), clip, tmp_path, "Get free followers now",
                         services=services)
    assert spam.decision == "hold" and spam.triggered == ["text"]
    abuse = await _screen(await _clip(owner.id, services=services), clip, tmp_path, "you should", ["kys"],
                          services=services)
    assert abuse.decision == "reject" and "caption" in (abuse.creator_reason or "")
