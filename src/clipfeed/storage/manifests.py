"""Manifests of a clip in the cold tier: the master playlist and the DASH MPD without the
renditions the cold tier does not keep, so players never ask for what is gone."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from clipfeed.storage.layout import attributes, parse_master

DASH_NS = "urn:mpeg:dash:schema:mpd:2011"


def renditions_to_drop(master: str, master_key: str) -> list[str]:
    """Every video rendition but the lowest H.264 one (what the cold tier keeps)."""
    renditions, _audio = parse_master(master, master_key)
    usable = [r for r in renditions if r.codecs.startswith("avc1")] or renditions
    if not usable:
        return []
    keep = usable[0].name
    return sorted({r.name for r in renditions if r.name != keep})


def _mentions(uri: str, dropped: list[str]) -> bool:
    return any(f"v/{name}/" in uri for name in dropped)


def reduce_master(text: str, dropped: list[str]) -> str:
    out: list[str] = []
    skip_next = False
    for line in text.splitlines():
        stripped = line.strip()
        if skip_next and stripped and not stripped.startswith("#"):
            skip_next = False
            if _mentions(stripped, dropped):
                out.pop()  # the #EXT-X-STREAM-INF line announcing it
                continue
        if stripped.startswith("#EXT-X-STREAM-INF"):
            skip_next = True
        if stripped.startswith("#EXT-X-I-FRAME-STREAM-INF") and _mentions(attributes(stripped).get("URI", ""), dropped):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def reduce_mpd(text: str, dropped: list[str]) -> str:
    ET.register_namespace("", DASH_NS)
    root = ET.fromstring(text)
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag.rsplit("}", 1)[-1] != "Representation":
                continue
            serial = ET.tostring(child, encoding="unicode")
            if child.get("id") in dropped or _mentions(serial, dropped):
                parent.remove(child)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
