"""The edit list a creator sends with an upload (or later, to re-edit): validated here, applied
by the transcoder in the same decode as the ladder.

Times are seconds. ``trim_*`` are on the source's timeline; ``texts[].start/end`` and
``cover_time`` on the edited clip's timeline (after trim and speed). Positions and crop are
fractions of the picture (0..1), so an edit list does not depend on the source's resolution.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clipfeed.core.text import RequiredParagraphs

MAX_TEXTS = 10
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Background audio comes from the object store: a file the creator uploaded next to the clip
# (clips/{id}/raw/...) or the sound library (sounds/...).
AUDIO_KEY = re.compile(r"^(clips/\d+/raw|sounds)/[A-Za-z0-9._=+@-]+(/[A-Za-z0-9._=+@-]+)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Crop(_Strict):
    """A rectangle of the (upright) picture, as fractions of its width and height."""

    x: float = Field(default=0.0, ge=0, lt=1)
    y: float = Field(default=0.0, ge=0, lt=1)
    width: float = Field(default=1.0, gt=0, le=1)
    height: float = Field(default=1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _inside(self) -> Crop:
        if self.x + self.width > 1.0001 or self.y + self.height > 1.0001:
            raise ValueError("the crop rectangle must lie inside the picture")
        if self.width < 0.1 or self.height < 0.1:
            raise ValueError("the crop rectangle is too small (at least a tenth of each side)")
        return self


class TextOverlay(_Strict):
    text: RequiredParagraphs = Field(min_length=1, max_length=200)
    x: float = Field(default=0.5, ge=0, le=1, description="0 = left edge, 1 = right edge (of the text box)")
    y: float = Field(default=0.85, ge=0, le=1, description="0 = top, 1 = bottom")
    size: float = Field(default=0.05, ge=0.02, le=0.25, description="font height as a fraction of the picture height")
    color: str = Field(default="#ffffff", pattern=COLOR.pattern)
    box: bool = True
    start: float = Field(default=0.0, ge=0)
    end: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _order(self) -> TextOverlay:
        if self.end is not None and self.end <= self.start:
            raise ValueError("a text overlay must end after it starts")
        return self


class BackgroundAudio(_Strict):
    key: str = Field(max_length=300, description="object key of the audio file")
    mode: Literal["replace", "mix"] = "mix"
    volume: float = Field(default=1.0, ge=0, le=2, description="gain of the background track")
    original_volume: float = Field(default=1.0, ge=0, le=2, description="gain of the clip's own sound when mixing")
    offset: float = Field(default=0.0, ge=0, description="start this far into the background track")

    @model_validator(mode="after")
    def _key(self) -> BackgroundAudio:
        if not AUDIO_KEY.match(self.key) or ".." in self.key.split("/"):
            raise ValueError("background audio must be an uploaded file (clips/<id>/raw/...) "
                             "or a library sound (sounds/...)")
        return self


class EditList(_Strict):
    trim_start: float = Field(default=0.0, ge=0)
    trim_end: float | None = Field(default=None, gt=0)
    crop: Crop | None = None
    rotate: Literal[0, 90, 180, 270] = Field(default=0, description="extra clockwise rotation, after crop")
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    cover_time: float | None = Field(default=None, ge=0, description="poster frame time on the edited clip")
    texts: list[TextOverlay] = Field(default_factory=list, max_length=MAX_TEXTS)
    audio: BackgroundAudio | None = None
    mute: bool = False

    @model_validator(mode="after")
    def _trim(self) -> EditList:
        if self.trim_end is not None and self.trim_end - self.trim_start < 0.5:
            raise ValueError("the trimmed clip must last at least half a second")
        return self

    @property
    def is_identity(self) -> bool:
        return self == EditList()

    def check_for_clip(self, clip_id: int) -> None:
        """A creator may only use their own clip's files (or the sound library)."""
        key = self.audio.key if self.audio else ""
        if key.startswith("clips/") and not key.startswith(f"clips/{clip_id}/raw/"):
            raise ValueError("background audio must belong to this clip")

    def output_duration(self, source_duration: float) -> float:
        """How long the edited clip is, given the source's duration."""
        end = min(self.trim_end, source_duration) if self.trim_end is not None else source_duration
        return max(0.0, end - self.trim_start) / self.speed

    def source_window(self, source_duration: float) -> tuple[float, float]:
        """(start, length) of the source the edited clip uses."""
        end = min(self.trim_end, source_duration) if self.trim_end is not None else source_duration
        return self.trim_start, max(0.0, end - self.trim_start)


def parse(raw: dict[str, object] | None) -> EditList:
    """An edit list from an event or request payload (None: no edits)."""
    return EditList.model_validate(raw or {})
