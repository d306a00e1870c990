"""Every string a user writes for others to read goes through one validator (``core.text``):
control characters and direction overrides are refused with a 422 on both stacks (a NUL was a
500 on PostgreSQL), text is NFC-normalised and trimmed."""

from __future__ import annotations

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.core.text import clean_text
from tests.helpers import assert_problem, signup
from tests.social.support import ready_clip
from tests.uploads.tus import create

REFUSED = ["\u202eevil", "ring\x07", "esc\x1b[31m", "nul\x00", "c1\x85", "del\x7f", "iso\u2066late"]


def test_the_validator_refuses_controls_normalises_and_trims() -> None:
    for text in REFUSED:
        for multiline in (False, True):
            with pytest.raises(ValueError):
                clean_text(text, multiline=multiline)
    assert clean_text("  two\nlines\tand a tab ", multiline=True) == "two\nlines\tand a tab"
    for text in ("two\nlines", "a\ttab"):
        with pytest.raises(ValueError):
            clean_text(text, multiline=False)
    assert clean_text("Cafe\u0301", multiline=False) == "Caf\u00e9"  # NFC: one spelling per word
    with pytest.raises(ValueError):
        clean_text("   ", multiline=True, required=True)


async def test_names_and_bios_refuse_control_characters(client, services) -> None:
    erin = await signup(client, "erin")
    for text in REFUSED:
        for field in ("display_name", "bio"):
            assert_problem(await client.patch("/v1/me", headers=erin.auth, json={field: text}), 422)
    answer = await client.post("/v1/auth/register", json={"handle": "frank", "email": "frank@example.com",
                                                          "password": "correct horse battery",
                                                          "display_name": "Frank\x00"})
    assert_problem(answer, 422)
    kept = await client.patch("/v1/me", headers=erin.auth, json={"display_name": " Ame\u0301lie ",
                                                                  "bio": "line one\nline two"})
    assert kept.status_code == 200, kept.text
    assert kept.json()["display_name"] == "Am\u00e9lie" and kept.json()["bio"] == "line one\nline two"
    shown = (await client.get("/v1/users/erin")).json()
    assert shown["display_name"] == "Am\u00e9lie"


async def test_every_other_user_text_refuses_a_nul(client, services) -> None:
    erin, mona = await signup(client, "erin"), await signup(client, "mona")
    await accounts.set_role(db=services.db, cache=services.cache, handle="mona", role=Role.moderator)
    clip_id = await ready_clip(client, services, erin)
    comment_id = (await client.post(f"/v1/clips/{clip_id}/comments", headers=erin.auth,
                                    json={"body": "first"})).json()["id"]
    nul = "bad\x00text"
    writes = [
        ("POST", "/v1/clips", erin, {"caption": nul}),
        ("PATCH", f"/v1/clips/{clip_id}", erin, {"caption": "\u202e" + "reversed"}),
        ("POST", f"/v1/clips/{clip_id}/comments", erin, {"body": nul}),
        ("PATCH", f"/v1/clips/{clip_id}/comments/{comment_id}", erin, {"body": nul}),
        ("POST", "/v1/reports", mona, {"kind": "clip", "id": clip_id, "category": "spam", "note": nul}),
        ("POST", f"/v1/clips/{clip_id}/shares", erin, {"channel": "user", "to_user": nul}),
        ("POST", "/v1/auth/login", None, {"login": "erin\x00", "password": "whatever-it-is"}),
        ("POST", "/v1/admin/purge", mona, {"clip_ids": [clip_id], "reason": nul}),
    ]
    for method, path, who, body in writes:
        answer = await client.request(method, path, headers=who.auth if who else None, json=body)
        assert_problem(answer, 422)
    for path in ("/v1/users/%00", "/v1/users/%00/clips", "/v1/users/%00/relationship", "/v1/users/e%00rin/avatar"):
        assert_problem(await client.get(path, headers=erin.auth), 404)
    made = await create(client, erin.auth, 10, filename="clip\x00.mp4")
    assert_problem(made, 400)
    made = await create(client, erin.auth, 10, filename="\u202emp4.exe")
    assert_problem(made, 400)
