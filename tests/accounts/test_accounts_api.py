"""Accounts over HTTP, on the embedded stack and on the real one."""

from __future__ import annotations

import io

import httpx
import sqlalchemy as sa
from PIL import Image

from clipfeed.accounts.models import AuthToken
from clipfeed.infra.db import utcnow
from tests.helpers import PASSWORD, assert_problem, hold_rate_clock, signup


async def test_register_then_read_my_profile(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    me = await client.get("/v1/me", headers=alice.auth)
    assert me.status_code == 200
    assert me.json()["handle"] == "alice" and me.json()["email"] == "alice@example.com"
    public = (await client.get("/v1/users/ALICE")).json()
    assert public["handle"] == "alice" and "email" not in public


async def test_password_is_stored_as_argon2id_and_tokens_only_as_digests(client, services) -> None:
    alice = await signup(client, "alice")
    async with services.db.session() as session:
        row = (await session.execute(sa.text("SELECT password_hash FROM users"))).scalar_one()
        digests = (await session.scalars(sa.select(AuthToken.digest))).all()
    assert row.startswith("$argon2id$") and PASSWORD not in row
    assert alice.token.encode() not in digests and all(len(d) == 32 for d in digests)


async def test_taken_handle_or_email_is_a_conflict(client: httpx.AsyncClient) -> None:
    await signup(client, "alice")
    again = await client.post("/v1/auth/register", json={
        "handle": "Alice", "email": "other@example.com", "password": PASSWORD})
    assert_problem(again, 409)
    same_email = await client.post("/v1/auth/register", json={
        "handle": "alice2", "email": "ALICE@example.com", "password": PASSWORD})
    assert_problem(same_email, 409)


async def test_bad_registration_input_gets_clear_problems(client: httpx.AsyncClient) -> None:
    malformed = await client.post("/v1/auth/register", content=b"{not json",
                                  headers={"content-type": "application/json"})
    assert_problem(malformed, 400)
    missing = await client.post("/v1/auth/register", json={"handle": "bob"})
    body = assert_problem(missing, 422)
    assert {"body.email", "body.password"} <= {".".join(e["location"]) for e in body["errors"]}
    short = await client.post("/v1/auth/register", json={
        "handle": "bob", "email": "bob@example.com", "password": "short"})
    assert_problem(short, 422)
    bad_handle = await client.post("/v1/auth/register", json={
        "handle": "../etc", "email": "bob@example.com", "password": PASSWORD})
    assert "handle" in assert_problem(bad_handle, 422)["detail"]
    reserved = await client.post("/v1/auth/register", json={
        "handle": "admin", "email": "bob@example.com", "password": PASSWORD})
    assert "reserved" in assert_problem(reserved, 422)["detail"]
    special_use = await client.post("/v1/auth/register", json={  # no mail is ever delivered there
        "handle": "bob", "email": "bob@1.a.test", "password": PASSWORD})
    assert "special-use" in assert_problem(special_use, 422)["detail"]
    extra = await client.post("/v1/auth/register", json={
        "handle": "bob", "email": "bob@example.com", "password": PASSWORD, "role": "admin"})
    assert_problem(extra, 422)


async def test_login_by_handle_or_email_and_wrong_password(client: httpx.AsyncClient) -> None:
    await signup(client, "alice")
    for login in ("alice", "ALICE@example.com"):
        ok = await client.post("/v1/auth/login", json={"login": login, "password": PASSWORD})
        assert ok.status_code == 200 and ok.json()["access_token"].startswith("cf_")
    wrong = await client.post("/v1/auth/login", json={"login": "alice", "password": "nope-nope-nope"})
    assert_problem(wrong, 401)
    nobody = await client.post("/v1/auth/login", json={"login": "nobody", "password": PASSWORD})
    assert assert_problem(nobody, 401)["detail"] == wrong.json()["detail"]


async def test_login_attempts_are_rate_limited(client: httpx.AsyncClient, services) -> None:
    await signup(client, "alice")
    hold_rate_clock(services=services)
    limit = services.settings.login_rate_per_minute
    statuses = [(await client.post("/v1/auth/login", json={"login": "alice", "password": "x"})).status_code
                for _ in range(limit + 1)]
    assert statuses[:limit] == [401] * limit
    blocked = await client.post("/v1/auth/login", json={"login": "alice", "password": PASSWORD})
    assert_problem(blocked, 429)
    assert int(blocked.headers["retry-after"]) >= 1


async def test_registration_is_rate_limited_per_address(client, services) -> None:
    services.settings.register_rate_per_hour = 2
    await signup(client, "first")
    await signup(client, "second")
    third = await client.post("/v1/auth/register", json={
        "handle": "third", "email": "third@example.com", "password": PASSWORD})
    assert_problem(third, 429)


async def test_missing_invalid_and_expired_tokens_are_refused(client, services) -> None:
    alice = await signup(client, "alice")
    none = await client.get("/v1/me")
    assert_problem(none, 401)
    assert none.headers["www-authenticate"].startswith("Bearer")
    assert_problem(await client.get("/v1/me", headers={"Authorization": "Bearer cf_forged"}), 401)
    async with services.db.session() as session:
        await session.execute(sa.update(AuthToken).values(expires_at=utcnow()))
    expired = await client.get("/v1/me", headers=alice.auth)
    assert "expired" in assert_problem(expired, 401)["detail"]


async def test_refresh_rotates_and_a_replayed_refresh_token_ends_the_session(client) -> None:
    alice = await signup(client, "alice")
    first = await client.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert first.status_code == 200
    new_access = first.json()["access_token"]
    assert (await client.get("/v1/me", headers={"Authorization": f"Bearer {new_access}"})).status_code == 200
    replay = await client.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_problem(replay, 401)
    # The replay revoked the whole family, including the access token it had minted.
    assert_problem(await client.get("/v1/me", headers={"Authorization": f"Bearer {new_access}"}), 401)


async def test_logout_revokes_the_token_at_once(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    other_session = (await client.post("/v1/auth/login", json={"login": "alice", "password": PASSWORD})).json()
    assert (await client.post("/v1/auth/logout", headers=alice.auth)).status_code == 204
    assert_problem(await client.get("/v1/me", headers=alice.auth), 401)
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_problem(refreshed, 401)
    # Another device's session is untouched.
    assert (await client.get("/v1/me", headers={
        "Authorization": f"Bearer {other_session['access_token']}"})).status_code == 200


async def test_profile_update_and_handle_change(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    await signup(client, "bob")
    updated = await client.patch("/v1/me", headers=alice.auth, json={
        "display_name": "Alice A.", "bio": "I film cats", "handle": "alice.films"})
    assert updated.status_code == 200 and updated.json()["handle"] == "alice.films"
    assert (await client.get("/v1/users/alice.films")).json()["bio"] == "I film cats"
    assert_problem(await client.get("/v1/users/alice"), 404)
    assert_problem(await client.patch("/v1/me", headers=alice.auth, json={"handle": "bob"}), 409)
    assert_problem(await client.patch("/v1/me", headers=alice.auth, json={"bio": "x" * 301}), 422)


def _image(fmt: str, size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


async def test_avatar_is_checked_reencoded_and_served(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "alice")
    put = await client.put("/v1/me/avatar", content=_image("PNG"),
                           headers={**alice.auth, "content-type": "image/png"})
    assert put.status_code == 200, put.text
    url = put.json()["avatar_url"]
    served = await client.get(url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(served.content)) as img:
        assert img.format == "WEBP" and img.size == (400, 400)
    # Replacing the avatar gives a new URL.
    again = await client.put("/v1/me/avatar", content=_image("JPEG"),
                             headers={**alice.auth, "content-type": "image/jpeg"})
    assert again.json()["avatar_url"] != url


async def test_avatar_rejects_bad_images(client, services) -> None:
    alice = await signup(client, "alice")
    headers = {**alice.auth, "content-type": "image/png"}
    text = await client.put("/v1/me/avatar", content=b"#!/bin/sh\necho pwned\n", headers=headers)
    assert_problem(text, 415)
    wrong_type = await client.put("/v1/me/avatar", content=_image("PNG"),
                                  headers={**alice.auth, "content-type": "text/plain"})
    assert_problem(wrong_type, 415)
    huge = await client.put("/v1/me/avatar", content=b"\x89PNG" + b"0" * (services.settings.avatar_max_bytes + 70_000),
                            headers=headers)
    assert_problem(huge, 413)
    services.settings.avatar_max_pixels = 100 * 100
    too_many_pixels = await client.put("/v1/me/avatar", content=_image("PNG", (300, 300)), headers=headers)
    assert_problem(too_many_pixels, 422)
    tiny = await client.put("/v1/me/avatar", content=_image("PNG", (8, 8)), headers=headers)
    assert_problem(tiny, 422)


async def test_oversized_json_body_is_refused_before_reading(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/auth/login", content=b"{" + b" " * 2_000_000 + b"}",
                                 headers={"content-type": "application/json"})
    assert_problem(response, 413)


async def test_account_deletion_removes_identity_clips_and_sessions(client, services) -> None:
    alice = await signup(client, "alice")
    await client.put("/v1/me/avatar", content=_image("PNG"), headers={**alice.auth, "content-type": "image/png"})
    clip = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "hi #cats"})).json()
    await services.blobs.put(f"clips/{clip['id']}/raw/master.mp4", b"fake video bytes")
    assert_problem(await client.request("DELETE", "/v1/me", headers=alice.auth,
                                        json={"password": "not the password"}), 403)
    gone = await client.request("DELETE", "/v1/me", headers=alice.auth, json={"password": PASSWORD})
    assert gone.status_code == 204
    assert_problem(await client.get("/v1/me", headers=alice.auth), 401)
    assert_problem(await client.post("/v1/auth/login", json={"login": "alice", "password": PASSWORD}), 401)
    assert_problem(await client.get("/v1/users/alice"), 404)
    assert [b async for b in services.blobs.list("avatars/")] == []
    assert [b async for b in services.blobs.list(f"clips/{clip['id']}/")] == []
    # The handle and e-mail are free again.
    await signup(client, "alice")
    async with services.db.session() as session:
        emails = (await session.execute(sa.text("SELECT email FROM users"))).scalars().all()
    assert emails.count("alice@example.com") == 1
