"""Topic and group names every adapter accepts.

Kept to what a NATS subject token and a JetStream stream or consumer name can carry, so a topic
that works on the embedded log also works on JetStream.
"""

from __future__ import annotations

import re

from clipfeed.core.errors import Invalid

_TOPIC = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\Z")
_GROUP = re.compile(r"[A-Za-z0-9_-]+\Z")
MAX_NAME = 128


def check_topic(name: str) -> str:
    """``name`` if it is a valid topic (letters, digits, ``_``, ``-``; dots between words)."""
    if len(name) > MAX_NAME or not _TOPIC.match(name):
        raise Invalid(f"invalid topic name {name!r}: use letters, digits, '_' and '-', dot-separated")
    return name


def check_group(name: str) -> str:
    """``name`` if it is a valid consumer group (letters, digits, ``_``, ``-``)."""
    if len(name) > MAX_NAME or not _GROUP.match(name):
        raise Invalid(f"invalid consumer group name {name!r}: use letters, digits, '_' and '-'")
    return name
