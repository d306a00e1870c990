"""Malformed IDs anywhere in a request are the client's mistake: a 4xx problem, never a 500.

Each case below crashed the server before the one ID type (``core.identifiers``) existed:
``²`` passes ``str.isdigit`` but not ``int()``, and 19-digit numbers past 2**63 - 1 overflow
SQLite's INTEGER and PostgreSQL's BIGINT.
"""

from __future__ import annotations

import base64

import orjson
import pytest

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.core.identifiers import MAX_ID, id_or_none, parse_count, parse_id, parse_user_ref
from tests.helpers import assert_problem, signup
from tests.social.support import ready_clip
from tests.uploads.tus import TUS, create, metadata, upload_id

SUPERSCRIPT_TWO = "%C2%B2"  # "²", a digit to str.isdigit and not to int()
HUGE = "9999999999999999999"  # 19 digits, above 2**63 - 1


def _forged(**position: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def test_an_id_is_ascii_digits_between_one_and_two_to_the_63() -> None:
    assert parse_id("1") == 1 and parse_id(str(MAX_ID)) == MAX_ID and parse_id(42) == 42
    for bad in ("0", "²", "٣", "1_000", " 12", "+5", "-1", "", str(MAX_ID + 1), HUGE, "1e3", True, 1.0, None, 0,
                MAX_ID + 1, "0x10"):
        with pytest.raises(ValueError):
            parse_id(bad)
        assert id_or_none(bad) is None
    assert parse_count("0") == 0 and parse_count("0012") == 12
    for bad in ("²", "-1", "", "1 ", str(MAX_ID + 1)):
        with pytest.raises(ValueError):
            parse_count(bad)
    assert parse_user_ref("123") == 123 and parse_user_ref("@123") == "123" and parse_user_ref("erin") == "erin"
    for bad in ("²", HUGE, "0", "@"):
        with pytest.raises(ValueError):
            parse_user_ref(bad)


async def test_non_ascii_digits_in_any_id_are_refused(client, services) -> None:
    erin = await signup(client, "erin")
    for path in (f"/share/c/{SUPERSCRIPT_TWO}", f"/share/c/{SUPERSCRIPT_TWO}/embed"):
        answer = await client.get(path)
        assert answer.status_code == 404, (path, answer.text)
    for path in (f"/v1/users/{SUPERSCRIPT_TWO}/relationship", f"/v1/uploads/{SUPERSCRIPT_TWO}",
                 f"/v1/clips/{SUPERSCRIPT_TWO}", f"/v1/clips/{SUPERSCRIPT_TWO}/playback"):
        answer = await client.get(path, headers=erin.auth)
        assert answer.status_code in (400, 404, 422), (path, answer.text)
        assert_problem(answer, answer.status_code)
    media = await client.get(f"/media/s/dev/{SUPERSCRIPT_TWO}/x/clips/1/hls/master.m3u8")
    assert media.status_code == 403
    assert (await client.get(f"/media/clips/{HUGE}/hls/master.m3u8")).status_code == 404
    for header in ("Upload-Offset", "Upload-Length"):
        made = await create(client, erin.auth, 10)
        uid = upload_id(made)
        answer = await client.patch(f"/v1/uploads/{uid}", content=b"x", headers={
            **TUS, **erin.auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
            header: "²".encode("latin-1")})
        assert_problem(answer, 400)
    answer = await client.post("/v1/uploads/", headers={**TUS, **erin.auth, "Upload-Length": "²".encode("latin-1")})
    assert_problem(answer, 400)
    answer = await client.post("/v1/uploads/", headers={**TUS, **erin.auth, "Upload-Length": "10",
                                                        "Upload-Metadata": metadata(clip_id="²")})
    assert_problem(answer, 400)
    for named in (f"/v1/uploads/{HUGE}", "/v1/uploads/\N{SUPERSCRIPT TWO}"):
        answer = await client.post("/v1/uploads/", headers={**TUS, **erin.auth,
                                                            "Upload-Concat": f"final;{named}".encode()})
        assert_problem(answer, 400)


async def test_ids_beyond_64_bits_are_refused_everywhere(client, services) -> None:
    erin, mod = await signup(client, "erin"), await signup(client, "mona")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mona", role=Role.moderator)
    clip_id = await ready_clip(client, services, erin)
    for method, path in (("GET", f"/v1/users/{HUGE}/relationship"), ("GET", f"/v1/users/{HUGE}/followers"),
                         ("PUT", f"/v1/users/{HUGE}/follow"), ("PUT", f"/v1/users/{HUGE}/block"),
                         ("GET", f"/v1/moderation/cases/{HUGE}"), ("POST", f"/v1/moderation/cases/{HUGE}/approve"),
                         ("GET", f"/v1/moderation/audit?case_id={HUGE}"), ("GET", f"/v1/clips/{HUGE}/comments")):
        answer = await client.request(method, path, headers=mod.auth)
        assert answer.status_code in (400, 404, 422), (method, path, answer.text)
        assert_problem(answer, answer.status_code)
    reply = await client.post(f"/v1/clips/{clip_id}/comments", headers=erin.auth,
                              json={"body": "hi", "parent_id": HUGE})
    assert_problem(reply, 422)
    shared = await client.post(f"/v1/clips/{clip_id}/shares", headers=erin.auth,
                               json={"channel": "user", "to_user": HUGE})
    assert shared.status_code in (404, 422), shared.text
    assert_problem(shared, shared.status_code)


async def test_a_forged_cursor_with_a_huge_number_is_a_400_on_every_list(client, services) -> None:
    erin, mod = await signup(client, "erin"), await signup(client, "mona")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mona", role=Role.moderator)
    clip_id = await ready_clip(client, services, erin)
    before = _forged(before="99999999999999999999999")
    lists = ["/v1/users/erin/clips", "/v1/me/likes", "/v1/me/bookmarks", "/v1/notifications",
             f"/v1/clips/{clip_id}/comments?sort=new", f"/v1/clips/{clip_id}/comments?sort=top",
             "/v1/users/erin/followers", "/v1/users/erin/following", "/v1/me/blocks", "/v1/moderation/audit",
             "/v1/moderation/blocklist"]
    for path in lists:
        joiner = "&" if "?" in path else "?"
        answer = await client.get(f"{path}{joiner}cursor={before}", headers=mod.auth)
        assert_problem(answer, 400)
    top = _forged(before="5", likes="99999999999999999999999")
    assert_problem(await client.get(f"/v1/clips/{clip_id}/comments?sort=top&cursor={top}"), 400)
    for odd in (_forged(n="x"), _forged(n="99999999999999999999999"), _forged(s="x" * 5000)):
        assert_problem(await client.get(f"/v1/feed?tab=foryou&cursor={odd}", headers=erin.auth), 400)
    assert_problem(await client.get(f"/v1/feed?tab=following&cursor={_forged(before='soon')}",
                                    headers=erin.auth), 400)


async def test_event_rejections_speak_in_our_words(client, services) -> None:
    events = [{"event_id": f"e{i}", "type": "impression", "clip_id": clip, "ts": ts, "session_id": "s1"}
              for i, (clip, ts) in enumerate((("²", 1_700_000_000_000), (HUGE, 1_700_000_000_000),
                                              ("1", 10**20)))]
    answer = await client.post("/v1/events", json={"events": events}, headers={"X-Device-Id": "device-0001"})
    assert answer.status_code == 200, answer.text
    rejected = answer.json()["rejected"]
    assert [r["index"] for r in rejected] == [0, 1, 2]
    for item in rejected:
        assert "int()" not in item["detail"] and "literal" not in item["detail"]
        assert "out of range" not in item["detail"] and "year" not in item["detail"]
        assert "Value error" not in item["detail"]
