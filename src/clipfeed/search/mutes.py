"""Mute filters: words, phrases and hashtags a user never wants to see. Whole words (muting
``cat`` hides "my cat" but not "catalogue"), case- and accent-insensitive (``spoiler`` hides
"SPOILER" and "spóiler"). Applied to search results, hashtag pages, Discover, similar clips,
the For You, Following and Hashtags feeds (through the viewer's cached links, see
``clipfeed.recs.viewers``) and comments (shown as filtered)."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from clipfeed.clips.models import Clip
from clipfeed.core.errors import Invalid
from clipfeed.infra.db import Database, utcnow
from clipfeed.infra.search.text import fold, words
from clipfeed.search.models import MuteFilter

MAX_FILTERS = 200
KINDS = ("word", "hashtag")


@dataclass(frozen=True)
class Mutes:
    phrases: list[list[str]] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.phrases or self.tags)

    def hides(self, clip: Clip) -> bool:
        return self.hides_text(clip.caption, clip.hashtags or [])

    def hides_text(self, text: str, hashtags: list[str] | tuple[str, ...] = ()) -> bool:
        """Whether a caption (or a comment) with these hashtags matches a muted word, phrase or tag."""
        tags = {fold(t) for t in hashtags}
        if tags & self.tags:
            return True
        found = words(text) + sorted(tags)
        return any(_contains(found, phrase) for phrase in self.phrases)

    def encoded(self) -> dict[str, list[str]]:
        return {"p": [" ".join(p) for p in self.phrases], "t": sorted(self.tags)}

    @classmethod
    def decoded(cls, data: dict[str, list[str]] | None) -> Mutes:
        data = data or {}
        return cls(phrases=[p.split() for p in data.get("p", [])], tags=set(data.get("t", [])))


def _contains(text: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(text[i:i + n] == phrase for i in range(len(text) - n + 1))


def normalise(kind: str, value: str) -> str:
    if kind == "hashtag":
        tag = fold(value.strip().lstrip("#"))
        if not tag or words(tag) != [tag]:
            raise Invalid("a muted hashtag: letters, digits and '_' only")
        return tag
    phrase = " ".join(words(value))
    if not phrase:
        raise Invalid("a muted word or phrase needs at least one letter or digit")
    return phrase


def filters_query(user_id: int | sa.BindParameter[int]) -> sa.Select[str, str]:
    """``user_id``'s filters (kind, value) as a query, for a reader that combines statements.
    What the viewer muted decides what is shown them: read it as an access read (a replica
    serves it only within the bound for such reads, ``read_session(access=True)``)."""
    return (sa.select(MuteFilter.kind, MuteFilter.value).where(MuteFilter.user_id == user_id)
            .order_by(MuteFilter.kind, MuteFilter.value))


async def list_filters(*, db: Database, user_id: int) -> list[tuple[str, str]]:
    async with db.read_session(access=True) as session:
        return [(k, v) for k, v in (await session.execute(filters_query(user_id))).all()]


async def add(*, db: Database, user_id: int, kind: str, value: str) -> tuple[str, str]:
    value = normalise(kind, value)
    async with db.session() as session:
        if await session.get(MuteFilter, (user_id, kind, value)) is None:
            count = await session.scalar(sa.select(sa.func.count()).where(MuteFilter.user_id == user_id))
            if int(count or 0) >= MAX_FILTERS:
                raise Invalid(f"at most {MAX_FILTERS} mute filters")
            session.add(MuteFilter(user_id=user_id, kind=kind, value=value, created_at=utcnow()))
    return kind, value


async def remove(*, db: Database, user_id: int, kind: str, value: str) -> None:
    value = normalise(kind, value)
    async with db.session() as session:
        await session.execute(sa.delete(MuteFilter).where(MuteFilter.user_id == user_id, MuteFilter.kind == kind,
                                                          MuteFilter.value == value))


async def of(*, db: Database, user_id: int | None) -> Mutes:
    if user_id is None:
        return Mutes()
    return from_filters(await list_filters(db=db, user_id=user_id))


def from_filters(found: list[tuple[str, str]]) -> Mutes:
    """The filters of ``list_filters`` (kind, value), in the order listed there."""
    found = sorted(found)
    return Mutes(phrases=[v.split() for k, v in found if k == "word"], tags={v for k, v in found if k == "hashtag"})
