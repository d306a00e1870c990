"""Automated screening of an uploaded clip: each check gives a score in [0, 1]; a policy table
maps scores to approve, hold (human review) or reject.

| check | score | default hold at | default reject at |
|---|---|---|---|
| ``nsfw`` | NudeNet on 16 frames spread over the clip (``clipfeed.media.nsfw``) | 0.45 | 0.85 |
| ``blocklist`` | share of the clip's frames (or of the entry's) near a blocklisted fingerprint | 0.2 | 0.5 |
| ``text`` | caption and hashtags through the moderation word lists (1.0 reject, 0.5 review) | 0.5 | 1.0 |
| ``duplicate`` | share of the clip's frames found in an earlier clip of *another* creator | 0.8 | never |

The decision is the strictest any check reaches. ``CLIPFEED_SCREENING_POLICY`` overrides rows,
e.g. ``{"duplicate": [0.8, 0.95]}`` rejects exact re-uploads of others' clips outright. A
creator re-posting their own clip is allowed (reported as ``duplicate_own``, no action).
Only clips that are live or on their way (processing, review, ready) count as originals.

Side effects, all idempotent so a redelivered job can run ``screen`` again: the outcome and
the fingerprint go to ``clip_features`` and the fingerprint into the pHash index (so later
uploads are compared with this one); a hold opens, or joins, the clip's pending case in the
moderation queue. The clip's status is the pipeline's to set: on ``reject`` it stores
``creator_reason`` as the clip's ``status_reason``; on ``hold`` it sets ``review``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import structlog

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.instance import service as instance
from clipfeed.instance.policy import DEFAULT_POLICY, full_policy  # noqa: F401  (DEFAULT_POLICY: re-exported)
from clipfeed.media import blocklist, features, nsfw, phash
from clipfeed.media.frames import Sampling, sample, spread
from clipfeed.media.probe import Probe
from clipfeed.moderation import service as moderation
from clipfeed.moderation.text import check_text

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services
    from clipfeed.settings import Settings

log = structlog.get_logger(__name__)

Decision = Literal["approve", "hold", "reject"]
# What the creator is told (moderators see the detailed reasons).
CREATOR_REASONS = {
    "nsfw": "it appears to contain nudity",
    "blocklist": "it matches content that is not allowed here",
    "text": "the caption or hashtags break the community rules",
    "duplicate": "it appears to be a copy of another creator's clip",
}
LIVE = {ClipStatus.processing.value, ClipStatus.review.value, ClipStatus.ready.value}
NSFW_BOX = 320


@dataclass
class ScreeningResult:
    decision: Decision
    scores: dict[str, float]
    reasons: list[str] = field(default_factory=list)  # for moderators: what matched and how much
    triggered: list[str] = field(default_factory=list)  # checks that led to hold/reject

    @property
    def creator_reason(self) -> str | None:
        """A sentence the creator sees when the clip is held or rejected."""
        if self.decision == "approve":
            return None
        verb = "removed" if self.decision == "reject" else "held for review"
        return f"{verb}: " + "; ".join(CREATOR_REASONS[c] for c in self.triggered if c in CREATOR_REASONS)

    def flags(self) -> dict[str, object]:
        return {"decision": self.decision, "scores": self.scores, "reasons": self.reasons}


def policy(settings: Settings) -> dict[str, tuple[float, float]]:
    return full_policy(settings.screening_policy)


def decide(scores: dict[str, float], table: dict[str, tuple[float, float]]) -> tuple[Decision, list[str]]:
    """The strictest action any check's score reaches, and the checks that reach it."""
    rejects = [c for c, s in scores.items() if c in table and s >= table[c][1]]
    if rejects:
        return "reject", rejects
    holds = [c for c, s in scores.items() if c in table and s >= table[c][0]]
    return ("hold", holds) if holds else ("approve", [])


async def screen(*, services: Services, clip_id: int, source: Path, workdir: Path, probe: Probe,
                 caption: str, hashtags: list[str]) -> ScreeningResult:
    """Run every check on ``source`` (the uploaded picture) and the caption; record the outcome.

    Returns the decision, each check's score and the reasons. See the module docstring for
    the policy and the side effects (idempotent; safe to repeat after a crash)."""
    settings = await instance.effective(services=services)  # admins may override the policy
    frames = await sample(source, probe=probe, workdir=workdir, samplings=[
        Sampling("nsfw", spread(probe.duration, settings.screening_nsfw_frames), NSFW_BOX),
        phash.sampling(probe.duration)])
    hashes = await asyncio.to_thread(phash.hashes_of, frames["phash"])  # CPU: off the event loop
    scores: dict[str, float] = {}
    reasons: list[str] = []

    scores["nsfw"], per_frame = await nsfw.score(frames["nsfw"])
    if scores["nsfw"] > 0:
        reasons.append(f"nudity detector: {scores['nsfw']:.2f} (frames over 0.2: "
                       f"{sum(s > 0.2 for s in per_frame)}/{len(per_frame)})")

    scores["blocklist"] = await _blocklist(hashes, reasons, services=services)

    verdict = check_text(" ".join([caption, *(f"#{tag}" for tag in hashtags)]), settings=settings)
    scores["text"] = float(verdict.score)
    if verdict.matches:
        reasons.append("caption rules: " + ", ".join(verdict.matches))

    clips = await clips_service.get_many(db=services.db, clip_ids=[clip_id])
    owner_id = clips[clip_id].owner_id if clip_id in clips else None
    scores["duplicate"], scores["duplicate_own"] = await _duplicates(clip_id, owner_id, hashes, reasons,
                                                                     services=services)

    decision, triggered = decide(scores, policy(settings))
    result = ScreeningResult(decision=decision, scores={k: round(v, 4) for k, v in scores.items()},
                             reasons=reasons, triggered=triggered)
    await features.save_screening(db=services.db, clip_id=clip_id, flags=result.flags(),
                                  fingerprint=phash.pack(hashes))
    async with services.db.session() as session:
        await phash.store(session, kind="clip", ref_id=clip_id, hashes=hashes)
    if decision == "hold":
        # Joins the clip's pending case if a previous delivery already opened it.
        await moderation.enqueue(db=services.db, outbox=services.outbox, ids=services.ids, subject_kind="clip",
                                 subject_id=clip_id, source="auto", reason="; ".join(reasons) or "screening",
                                 scores={k: scores[k] for k in triggered}, subject_owner_id=owner_id)
    log.info("media.screened", clip_id=clip_id, decision=decision, scores=result.scores)
    return result


async def _blocklist(hashes: np.ndarray, reasons: list[str], *, services: Services) -> float:
    matches = await phash.find(db=services.db, kind="block", hashes=hashes,
                               max_distance=services.settings.screening_phash_distance)
    if not matches:
        return 0.0
    entries = await blocklist.get_many(db=services.db, entry_ids=[m.ref_id for m in matches])
    best = 0.0
    for match in matches:
        entry = entries.get(match.ref_id)
        if entry is None or match.matched < min(2, len(hashes)):
            continue
        # A short excerpt of a blocklisted clip inside a longer upload covers much of the entry.
        share = max(match.fraction, match.matched_ref / max(entry.frames, 1))
        reasons.append(f"blocklist entry {entry.id} ({entry.reason}): {match.matched}/{match.probe_frames} "
                       f"frames, {match.matched_ref}/{entry.frames} of the entry")
        best = max(best, share)
    return best


async def _duplicates(clip_id: int, owner_id: int | None, hashes: np.ndarray, reasons: list[str],
                      *, services: Services) -> tuple[float, float]:
    matches = [m for m in await phash.find(db=services.db, kind="clip", hashes=hashes,
                                           max_distance=services.settings.screening_phash_distance,
                                           exclude=clip_id)
               if m.ref_id < clip_id]  # only earlier clips can be the original
    if not matches:
        return 0.0, 0.0
    originals = await clips_service.get_many(db=services.db, clip_ids=[m.ref_id for m in matches])
    live = [(m, originals[m.ref_id]) for m in matches if m.ref_id in originals and originals[m.ref_id].status in LIVE]
    # Copies others made of the creator's own earlier clip do not count against the creator.
    own_first = min((c.id for _, c in live if c.owner_id == owner_id), default=None)
    other = own = 0.0
    for match, original in live:
        mine = original.owner_id == owner_id
        if not mine and own_first is not None and original.id > own_first:
            continue
        if mine:
            own = max(own, match.fraction)
        else:
            other = max(other, match.fraction)
        reasons.append(f"{'own ' if mine else ''}re-upload of clip {original.id}: "
                       f"{match.matched}/{match.probe_frames} frames")
    return other, own
