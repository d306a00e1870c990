"""The event contract holds: every type is produced and read, names are spelled once, and
events as stored before the contract existed still parse (and are produced the same way)."""

from __future__ import annotations

import ast
import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from clipfeed.core import contract
from clipfeed.core.contract import EVENT_TYPES, EventType, Topic
from clipfeed.core.events import Event
from clipfeed.lake import compaction
from clipfeed.workers import ROLES

SRC = Path(contract.__file__).resolve().parents[1]
CONTRACT = Path(contract.__file__).resolve()


@functools.cache
def _modules() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in sorted(SRC.rglob("*.py")) if path != CONTRACT}


def _names(node: ast.AST) -> set[str]:
    """The contract's module-level names ``node`` mentions (``contract.X``, ``X``, ``X[...]``)."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Name):
            found.add(sub.id)
    return {name for name in found if isinstance(getattr(contract, name, None), EventType | dict)}


def _members(name: str) -> list[EventType[Any]]:
    value = getattr(contract, name)
    return list(value.values()) if isinstance(value, dict) else [value]


@functools.cache
def _calls(method: str) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.Call]]:
    found = []
    for tree in _modules().values():
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [(function, call) for call in ast.walk(function) if isinstance(call, ast.Call)
                          and isinstance(call.func, ast.Attribute) and call.func.attr == method]
    return found


def _produced() -> set[str]:
    """Types named in a function that builds events (``X.event(...)``) or stages them
    (``outbox.record(session, X, ...)``). A family (``CLIP_STATUS[status]``) counts whole: which
    member a run picks is not visible to a reading of the code."""
    produced = set()
    for function, _call in _calls("event") + _calls("record"):
        for name in _names(function):
            produced |= {t.name for t in _members(name)}
    return produced


def _processors() -> dict[str, set[str]]:
    """Consumer group -> the topics it reads, over every worker role and the lake's consumer."""
    groups: dict[str, set[str]] = {compaction.GROUP: {Topic.ACTIVITY_USERS}}
    for role in ROLES.values():
        for factory in role.processors:
            groups.setdefault(factory.group, set()).update(factory.topics)  # type: ignore[union-attr]
    return groups


def _live_topics() -> set[str]:
    """Topics some module listens to live (``services.live.listen(Topic.X, key)``)."""
    return {call.args[0].attr for _, call in _calls("listen")
            if call.args and isinstance(call.args[0], ast.Attribute)
            and isinstance(call.args[0].value, ast.Attribute | ast.Name)
            and getattr(call.args[0].value, "attr", getattr(call.args[0].value, "id", "")) == "Topic"}


def test_every_event_type_is_produced_somewhere() -> None:
    missing = sorted(set(EVENT_TYPES) - _produced())
    assert not missing, f"declared but never produced: {missing}"


def test_every_event_type_is_read_by_a_consumer_of_its_topic_or_says_why_not() -> None:
    groups, live = _processors(), {getattr(Topic, name) for name in _live_topics()}
    problems = []
    for event_type in EVENT_TYPES.values():
        if bool(event_type.readers) == bool(event_type.unread):
            problems.append(f"{event_type.name}: give readers or a reason none reads it, not both")
        carried = {event_type.topic, *event_type.also_on}
        for reader in event_type.readers:
            if reader.startswith("live:"):
                if event_type.topic not in live:
                    problems.append(f"{event_type.name}: nobody listens live to {event_type.topic}")
            elif reader not in groups:
                problems.append(f"{event_type.name}: no consumer group {reader!r}")
            elif not groups[reader] & carried:
                problems.append(f"{event_type.name}: {reader} reads {sorted(groups[reader])}, not {sorted(carried)}")
    assert not problems, "\n".join(problems)


def test_every_consumer_reads_a_topic_that_something_publishes() -> None:
    published = {t for event_type in EVENT_TYPES.values() for t in (event_type.topic, *event_type.also_on)}
    for group, topics in _processors().items():
        assert topics <= published, f"{group} reads {sorted(topics - published)}, which nothing publishes"


def test_every_parsed_type_is_produced() -> None:
    parsed = {t.name for method in ("parse", "parse_payload") for _, call in _calls(method)
              for name in _names(call.func) for t in _members(name)}
    assert parsed, "no consumer parses through the contract"
    assert parsed <= _produced()


def test_type_and_topic_names_are_spelled_only_in_the_contract() -> None:
    names = {n for n in EVENT_TYPES if "." in n} | {v for k, v in vars(Topic).items() if k.isupper() and "." in v}
    spelled = [f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}" for path, tree in _modules().items()
               for node in ast.walk(tree) if isinstance(node, ast.Constant) and node.value in names]
    assert not spelled, spelled


# Payloads as producers wrote them before the contract (wire format of events already stored).
STORED: dict[str, dict[str, Any]] = {
    "like.added": {"user_id": "7", "clip_id": "42", "creator_id": "9"},
    "like.removed": {"user_id": "7", "clip_id": "42", "creator_id": "9", "reason": "account deleted"},
    "share.created": {"user_id": "7", "clip_id": "42", "creator_id": "9", "share_id": "5", "channel": "link",
                      "to_user_id": None},
    "comment.created": {"user_id": "7", "clip_id": "42", "creator_id": "9", "comment_id": "3", "parent_id": None,
                        "reply_to_user_id": None, "mention_ids": ["11"]},
    "follow.added": {"user_id": "7", "followee_id": "9"},
    "follow.removed": {"user_id": "7", "followee_id": "9", "ended_by": "9"},
    "clip.ready": {"clip_id": "42", "owner_id": "9", "status": "ready", "visibility": "public", "hashtags": ["a"]},
    "clip.updated": {"clip_id": "42", "owner_id": "9", "status": "ready", "visibility": "private", "hashtags": [],
                     "fields": ["visibility"]},
    "user.deleted": {"clip_ids": ["42", "43"]},
    "media.uploaded": {"clip_id": "42", "owner_id": "9", "master_key": "clips/42/raw/a.mp4", "filename": "a.mp4",
                       "size": 10, "sha256": "ab", "edits": None, "upload_id": ""},
    "moderation.blocklist_added": {"entry_id": "4", "source_clip_id": ""},
    "play_start": {"clip_id": "42", "viewer": "anon:dev-1", "user_id": None, "client_event_id": "e1",
                   "session_id": "s1", "device": "web", "network": "wifi", "source": None, "received_ms": 1,
                   "duration_ms": 15000},
}


@pytest.mark.parametrize("name", sorted(STORED))
def test_stored_payloads_parse_and_are_produced_unchanged(name: str) -> None:
    event_type = EVENT_TYPES[name]
    parsed = event_type.parse_payload(STORED[name])
    assert EventType.dump(parsed) == STORED[name]


def test_a_stored_playback_envelope_still_decodes() -> None:
    # The ingestion wrote envelopes with orjson (a "+00:00" offset) before it built them here.
    raw = orjson.dumps({"id": 1, "type": "skip", "version": 1, "occurred_at": datetime(2026, 12, 1, tzinfo=UTC),
                        "key": "42", "actor_id": 7, "region": "eu",
                        "payload": {"clip_id": "42", "viewer": "7", "user_id": "7", "position_ms": 2500}})
    event = Event.decode(raw)
    skip = contract.PLAYBACK["skip"].parse(event)
    assert (skip.clip_id, skip.user_id, skip.position_ms) == (42, 7, 2500)


def test_a_payload_of_the_wrong_shape_or_type_is_refused() -> None:
    event = contract.LIKE_ADDED.event(id=1, key=42, payload=contract.ClipEngagement(user_id=7, clip_id=42,
                                                                                    creator_id=9))
    with pytest.raises(ValueError):
        contract.FOLLOW_ADDED.parse(event)
    with pytest.raises(ValueError):
        contract.LIKE_ADDED.parse_payload({"user_id": "seven", "clip_id": "42", "creator_id": "9"})
    with pytest.raises(ValueError):
        contract.LIKE_ADDED.parse_payload({"user_id": str(2**63), "clip_id": "42", "creator_id": "9"})
    with pytest.raises(TypeError):
        contract.LIKE_ADDED.event(id=1, key=42, payload=contract.FollowChanged(user_id=7, followee_id=9))
